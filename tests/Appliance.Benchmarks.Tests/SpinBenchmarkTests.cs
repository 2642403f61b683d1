namespace Appliance.Benchmarks.Tests;

/// <summary>Runs <c>appliance-bench spin --preset tiny</c> end to end: every policy's decode, paused loop and Whisper figures.</summary>
public sealed class SpinBenchmarkTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "bench-spin-" + Guid.NewGuid().ToString("N"));

    public SpinBenchmarkTests() => Directory.CreateDirectory(_root);

    [Fact]
    public async Task The_tiny_preset_reports_each_figure_for_each_policy()
    {
        var markdown = Path.Combine(_root, "spin.md");

        var exitCode = await BenchmarkCli.InvokeAsync(["spin", "--preset", "tiny", "--runs", "1", "--clip-seconds", "4", "--models", Path.Combine(_root, "models"), "--markdown", markdown]);

        Assert.Equal(0, exitCode);
        var text = await File.ReadAllTextAsync(markdown);
        var rows = text.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal) && l.Contains("Never / WithinRun / Always", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, rows.Count);
        Assert.All(rows, row =>
        {
            var values = row.Split('|', StringSplitOptions.TrimEntries)[2].Split(" / ");
            Assert.Equal(3, values.Length);
            // context switches and kernel time may round to 0 on the tiny model; every other figure is a time or a speed
            var mayBeZero = row.Contains("context switches", StringComparison.Ordinal) || row.Contains("kernel processor time", StringComparison.Ordinal);
            Assert.All(values, v => Assert.True(double.TryParse(v.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var figure) && (figure > 0 || (mayBeZero && figure == 0)), row));
        });
        Assert.Contains("appliance-bench spin --preset tiny", text, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
