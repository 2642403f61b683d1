namespace Appliance.Benchmarks.Tests;

/// <summary>
/// Runs <c>appliance-bench voice --preset tiny</c> end to end: forge, template path, first tokens with and without the
/// reused instructions and a 300-token prefix, the LLM path, and a spoken command through the daemon on both paths.
/// </summary>
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
        foreach (var figure in new[] { "template path: median / p95", "first token, instructions processed each time", "first token, instructions' cache reused", "first token speed-up with reuse", "pipeline overhead beyond model compute", "spoken command (" })
        {
            Assert.Contains($"| {figure}", text, StringComparison.Ordinal);
        }

        // The goal's prefix size is cut from the instructions, at most 300 tokens and not far under.
        var shortPrefix = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\| first token, a (\d+)-token prefix").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(shortPrefix, 250, 300);

        // End of speech to intent: the trailing silence plus the daemon's time, on each path, and no less than the transcript's.
        foreach (var path in new[] { "template path: the matcher alone, no voice model", "LLM path" })
        {
            var spoken = System.Text.RegularExpressions.Regex.Match(text, $@"\| end of speech to intent published, {path} \((\d+) ms trailing silence \+ ([0-9.]+) ms\) \| ([0-9.]+) ms");
            Assert.True(spoken.Success, text);
            var (silence, daemon, total) = (double.Parse(spoken.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(spoken.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture), double.Parse(spoken.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(700, silence);
            Assert.True(daemon > 0, text);
            Assert.Equal(silence + daemon, total, 0.15);
        }

        var instructions = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\| voice model instructions \(constant prefix\) \| (\d+) tokens").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        var cached = int.Parse(System.Text.RegularExpressions.Regex.Match(text, @"\((\d+) prompt tokens from the cache\)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(instructions > 100, text);
        Assert.InRange(cached, instructions, instructions + 16); // the instructions and the chat template's tokens around them
        Assert.Contains("appliance-bench voice --preset tiny", text, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
