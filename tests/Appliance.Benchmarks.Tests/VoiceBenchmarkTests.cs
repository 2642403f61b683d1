namespace Appliance.Benchmarks.Tests;

/// <summary>Runs <c>appliance-bench voice --preset tiny</c> end to end: forge, template path, first tokens with and without the reused instructions, the LLM path.</summary>
public sealed class VoiceBenchmarkTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "bench-voice-" + Guid.NewGuid().ToString("N"));

    public VoiceBenchmarkTests() => Directory.CreateDirectory(_root);

    [Fact]
    public async Task The_tiny_preset_reports_every_figure_and_the_second_request_takes_the_instructions_from_the_cache()
    {
        var markdown = Path.Combine(_root, "voice.md");

        var exitCode = await BenchmarkCli.InvokeAsync(["voice", "--preset", "tiny", "--runs", "3", "--models", Path.Combine(_root, "models"), "--markdown", markdown]);

        Assert.Equal(0, exitCode);
        var text = await File.ReadAllTextAsync(markdown);
        foreach (var figure in new[] { "template path: median / p95", "first token, instructions processed each time", "first token, instructions' cache reused", "first token speed-up with reuse", "pipeline overhead beyond model compute" })
        {
            Assert.Contains($"| {figure}", text, StringComparison.Ordinal);
        }

        var instructions = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\| voice model instructions \(constant prefix\) \| (\d+) tokens").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var cached = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\((\d+) prompt tokens from the cache\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(instructions > 100, text);
        Assert.InRange(cached, instructions, instructions + 16); // the instructions and the chat template's tokens around them
        Assert.Contains("appliance-bench voice --preset tiny", text, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
