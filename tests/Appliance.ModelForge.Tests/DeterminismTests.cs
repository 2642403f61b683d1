using Appliance.ModelForge.Llm;

namespace Appliance.ModelForge.Tests;

public sealed class DeterminismTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "modelforge-determinism-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void SameSeedGivesIdenticalBytesAndAnotherSeedDifferentWeights()
    {
        var options = new LlmForgeOptions { WriteGguf = true };
        var first = LlmForge.Write(LlmPreset.Tiny, 7, Path.Combine(_root, "a"), options);
        var second = LlmForge.Write(LlmPreset.Tiny, 7, Path.Combine(_root, "b"), options);
        var other = LlmForge.Write(LlmPreset.Tiny, 8, Path.Combine(_root, "c"), options);

        var files = Directory.GetFiles(first.Directory).Select(f => Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal<string>(
            ["config.json", "genai_config.json", "generation_config.json", LlmForge.GgufFileName, LlmForge.ModelFileName, LlmForge.ModelDataFileName, "tokenizer.json", "tokenizer_config.json"],
            files);
        foreach (var file in files)
        {
            Assert.True(
                File.ReadAllBytes(Path.Combine(first.Directory, file)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(second.Directory, file))),
                $"{file} differs between two forges with the same seed");
        }

        foreach (var weightsFile in new[] { LlmForge.ModelDataFileName, LlmForge.GgufFileName })
        {
            var a = File.ReadAllBytes(Path.Combine(first.Directory, weightsFile));
            var c = File.ReadAllBytes(Path.Combine(other.Directory, weightsFile));
            Assert.Equal(a.Length, c.Length);
            Assert.False(a.AsSpan().SequenceEqual(c), $"{weightsFile} is the same for seeds 7 and 8");
        }

        // The graph and the tokenizer depend on the preset only.
        Assert.Equal(File.ReadAllBytes(Path.Combine(first.Directory, "tokenizer.json")), File.ReadAllBytes(Path.Combine(other.Directory, "tokenizer.json")));
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
