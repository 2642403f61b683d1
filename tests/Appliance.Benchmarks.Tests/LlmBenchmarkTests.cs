using System.Text.Json;
using Appliance.Benchmarks;

namespace Appliance.Benchmarks.Tests;

/// <summary>Runs <c>appliance-bench llm --preset tiny</c> end to end: forge, bandwidth, eight engine children, reports.</summary>
public sealed class LlmBenchmarkTests : IDisposable
{
    private static readonly string[] Engines = ["bare", "bare-ngram", "service", "service-no-cpu-arena", "service-spin-within-run", "service-int4-embedding", "service-pruned-head", "service-fp16-kv", "llama.cpp"];
    private readonly string _root = Path.Combine(Path.GetTempPath(), "bench-tests-" + Guid.NewGuid().ToString("N"));

    public LlmBenchmarkTests() => Directory.CreateDirectory(_root);

    [Fact]
    public async Task TinyPresetReportsEveryEngineWithPositiveFigures()
    {
        var json = Path.Combine(_root, "result.json");
        var markdown = Path.Combine(_root, "result.md");

        var exitCode = await BenchmarkCli.InvokeAsync(
        [
            "llm", "--preset", "tiny", "--models", Path.Combine(_root, "models"), "--runs", "2", "--bandwidth-mib", "32",
            "--json", json, "--markdown", markdown,
        ]);

        Assert.Equal(0, exitCode);
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var engines = report.RootElement.GetProperty("engines").EnumerateArray().ToDictionary(e => e.GetProperty("engine").GetString()!);
        Assert.Equal(Engines.Order(), engines.Keys.Order());
        foreach (var engine in engines.Values)
        {
            foreach (var figure in new[] { "loadSeconds", "peakResidentBytes", "timeToFirstTokenSeconds", "prefillTokensPerSecond", "decodeTokensPerSecond" })
            {
                Assert.True(engine.GetProperty(figure).GetDouble() > 0, $"{engine.GetProperty("engine")} {figure}");
            }

            Assert.All(engine.GetProperty("runs").EnumerateArray(), run => Assert.Equal(16, run.GetProperty("generatedTokens").GetInt32()));
        }

        Assert.True(report.RootElement.GetProperty("bandwidthBytesPerSecond").GetDouble() > 0);
        Assert.True(report.RootElement.GetProperty("onnxDecodeBound").GetDouble() > 0);
        var text = await File.ReadAllTextAsync(markdown);
        Assert.All(Engines, engine => Assert.Contains($"| {engine} |", text, StringComparison.Ordinal));
        Assert.Contains("service / bare", text, StringComparison.Ordinal);
        Assert.Contains("bare-ngram / bare (n-gram 3, 4 drafts a round;", text, StringComparison.Ordinal);
        Assert.All(engines["bare-ngram"].GetProperty("runs").EnumerateArray(), run => Assert.True(run.GetProperty("draftsProposed").GetInt64() >= run.GetProperty("draftsAccepted").GetInt64()));
        Assert.All(engines["bare"].GetProperty("runs").EnumerateArray(), run => Assert.Equal(JsonValueKind.Null, run.GetProperty("draftsProposed").ValueKind));
        Assert.Contains("service-pruned-head / llama.cpp (goal ≤ 1.00)", text, StringComparison.Ordinal);
        Assert.Contains("| llama.cpp / service-spin-within-run |", text, StringComparison.Ordinal);
        Assert.True(
            engines["service-int4-embedding"].GetProperty("peakResidentBytes").GetInt64() > 0
            && Directory.GetFiles(Path.Combine(_root, "models"), "model.onnx.data", SearchOption.AllDirectories).Length == 4,
            "the int4-embedding, pruned-head and fp16-KV twins are forged beside the float one");
        Assert.Contains("appliance-bench llm --preset tiny", text, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
