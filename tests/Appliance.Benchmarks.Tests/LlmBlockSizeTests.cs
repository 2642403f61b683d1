using Appliance.Benchmarks.Llm;
using Appliance.ModelForge.Llm;

namespace Appliance.Benchmarks.Tests;

/// <summary>
/// The LLM benchmarks' <c>--block-size</c>: a larger block is forged into a folder of its own, its engine children are
/// told to use it, and a decode step reads the same 4-bit codes with fewer float scales.
/// </summary>
public sealed class LlmBlockSizeTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "bench-block-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void A_block_of_64_keeps_the_codes_halves_the_scales_a_step_reads_and_reaches_the_children()
    {
        var block32 = Settings(LlmForgeOptions.DefaultMatMulBlockSize);
        var block64 = Settings(64);
        BenchModelCache.PrepareFloat(block32, _ => { });
        BenchModelCache.PrepareFloat(block64, _ => { });

        var (traffic32, traffic64) = (DecodeTraffic.Count(block32), DecodeTraffic.Count(block64));

        Assert.NotEqual(block32.ModelDirectory, block64.ModelDirectory);
        Assert.Equal(traffic32.MatMulWeightBytes, traffic64.MatMulWeightBytes);
        Assert.True(traffic64.MatMulScaleBytes > 0);
        Assert.Equal(traffic32.MatMulScaleBytes, 2 * traffic64.MatMulScaleBytes);
        Assert.Equal(traffic32.GgufBytesPerToken, traffic64.GgufBytesPerToken); // llama.cpp keeps Q4_0's blocks of 32
        var arguments = block64.ChildArguments(LlmEngineKind.Service);
        Assert.Equal("64", arguments[arguments.ToList().IndexOf("--block-size") + 1]);
    }

    private LlmBenchSettings Settings(int blockSize) =>
        new() { Preset = LlmPreset.Tiny, CacheDirectory = _root, PromptTokens = 8, DecodeTokens = 4, BlockSize = blockSize };

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
