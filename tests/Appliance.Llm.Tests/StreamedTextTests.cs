using System.Text;
using System.Text.Json;
using Appliance.ModelForge.Llm;
using Appliance.Tests.Common;
using Xunit.Abstractions;

namespace Appliance.Llm.Tests;

/// <summary>
/// Streamed text against a byte-exact reference: transformers.js decodes the same greedy token ids (node,
/// tools/ModelForge/parity/decode.mjs). Forged models' random weights produce exactly the awkward ids of the field
/// case llm-invalid-utf8: single bytes that are not complete UTF-8, and characters spelled over several tokens.
/// </summary>
public sealed class StreamedTextTests(ITestOutputHelper output) : IClassFixture<StreamedTextTests.Models>
{
    private const int Tokens = 60;

    /// <summary>Greedy ids decoded token by token equal transformers.js's decoding of the whole sequence, and the
    /// service's streamed reasoning and answer deltas are that text split at the think tags, nothing lost.</summary>
    [Theory]
    [InlineData(1, "hi")]
    [InlineData(1, "Set the fridge to three degrees.")]
    [InlineData(2, "hi")]
    [InlineData(3, "سلام، دمای یخچال چند است؟")]
    [InlineData(5, "冰箱温度是多少？")]
    [InlineData(7, "Turn the TV to channel 5 β γ 🙂")]
    [InlineData(11, "مرحبا")]
    [InlineData(42, "hello there")]
    public async Task Streamed_text_equals_a_byte_level_decoder_with_replacement(int seed, string prompt)
    {
        var folder = Models.Folder(seed);
        await using var service = new LlmService(ForgedModels.Options());
        Assert.Equal(LlmModelState.Loaded, (await service.LoadModelAsync(new() { Id = "m", Path = folder })).State);
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest
        {
            Messages = Prompts.User(prompt),
            Temperature = 0,
            MaxTokens = Tokens,
            ThinkingBudgetTokens = Tokens + 100,
            Reasoning = ReasoningMode.Separate,
            IncludeTokenIds = true,
        }));

        var completed = transcript.Completed;
        var ids = completed.TokenIds!.ToList();
        if (completed.Reason == LlmFinishReason.Stop)
        {
            ids.RemoveAt(ids.Count - 1); // the end-of-sequence token ends the text, it is not part of it
        }

        var reference = Decode(folder, [ids])[0];
        output.WriteLine($"seed {seed}: {ids.Count} ids, reference {JsonSerializer.Serialize(reference)}");

        var vocabulary = ByteLevelVocabulary.TryLoad(folder)!;
        using (var stream = vocabulary.CreateStream())
        {
            var streamed = new StringBuilder();
            foreach (var id in ids)
            {
                streamed.Append(stream.Decode(id));
            }

            Assert.Equal(reference, streamed.Append(stream.Flush()).ToString());
        }

        var (reasoning, answer) = (new StringBuilder(), new StringBuilder());
        var splitter = new ReasoningSplitter(startInReasoning: true);
        splitter.Push(reference, reasoning, answer);
        splitter.Flush(reasoning, answer);
        Assert.Equal(reasoning.ToString(), transcript.Reasoning);
        Assert.Equal(answer.ToString(), transcript.Answer);
    }

    /// <summary>
    /// Field case llm-invalid-utf8 (forged tiny model, seed 1, "hi", greedy, 60 tokens): the ids hold a lone 0xFB
    /// and lead bytes followed by ASCII. Each such byte is one U+FFFD and what follows is kept: the reference
    /// (transformers.js on the same ids) has "ian" + U+FFFD fifteen times and " should" three times, where the
    /// stream used to drop the fourteen "ian" after the first 0xFB and cut " should" to "ould".
    /// </summary>
    [Fact]
    public async Task Bytes_that_are_not_utf8_become_replacement_characters_and_nothing_after_them_is_lost()
    {
        await using var service = new LlmService(ForgedModels.Options());
        await service.LoadModelAsync(new() { Id = "m", Path = Models.Folder(1) });
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest
        {
            Messages = Prompts.User("hi"),
            Temperature = 0,
            MaxTokens = Tokens,
            ThinkingBudgetTokens = Tokens + 100,
            Reasoning = ReasoningMode.Separate,
        }));

        var text = transcript.Reasoning + transcript.Answer;
        output.WriteLine(JsonSerializer.Serialize(text));
        Assert.Equal(15, Occurrences(text, "ian\uFFFD"));
        Assert.Equal(3, Occurrences(text, " should"));
    }

    /// <summary>The decoder's three rules on hand-picked byte tokens of the byte-level alphabet.</summary>
    [Fact]
    public void Partial_characters_are_held_back_and_impossible_bytes_replaced()
    {
        var vocabulary = ByteLevelVocabulary.TryLoad(Models.Folder(1))!;
        var byteToken = Enumerable.Range(0, vocabulary.Count).Where(id => vocabulary.BytesOf(id).Length == 1)
            .ToDictionary(id => vocabulary.BytesOf(id)[0], id => id);
        using var stream = vocabulary.CreateStream();

        // β (CE B2) split over two tokens comes out whole, once complete.
        Assert.Equal("", stream.Decode(byteToken[0xCE]));
        Assert.Equal("β", stream.Decode(byteToken[0xB2]));

        // A lead byte followed by ASCII can never complete: one U+FFFD, the ASCII kept.
        Assert.Equal("", stream.Decode(byteToken[0xC2]));
        Assert.Equal("\uFFFDA", stream.Decode(byteToken[(byte)'A']));

        // 0xFB is never part of UTF-8.
        Assert.Equal("\uFFFD", stream.Decode(byteToken[0xFB]));

        // A lead byte still open at the end becomes U+FFFD when the stream is flushed.
        Assert.Equal("", stream.Decode(byteToken[0xE4]));
        Assert.Equal("\uFFFD", stream.Flush());
    }

    private static int Occurrences(string text, string part) => (text.Length - text.Replace(part, "", StringComparison.Ordinal).Length) / part.Length;

    private static string[] Decode(string folder, IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        var json = ToolRunner.Run("node", ["decode.mjs", folder], ParityHarness.Directory(), timeoutSeconds: 60, standardInput: JsonSerializer.Serialize(sequences));
        return JsonSerializer.Deserialize<string[]>(json.Trim().Split('\n')[^1])!;
    }

    /// <summary>Tiny forged R1-style models, one per seed, written once for the class and removed afterwards.</summary>
    public sealed class Models : IDisposable
    {
        private static readonly string s_root = Path.Combine(Path.GetTempPath(), "llm-streamed-text-" + Guid.NewGuid().ToString("N"));

        public static string Folder(int seed)
        {
            var folder = Path.Combine(s_root, $"tiny-{seed}");
            lock (s_root)
            {
                if (!Directory.Exists(folder))
                {
                    LlmForge.Write(LlmPreset.Tiny, seed, folder);
                }
            }

            return folder;
        }

        public void Dispose()
        {
            if (Directory.Exists(s_root))
            {
                Directory.Delete(s_root, recursive: true);
            }
        }
    }
}
