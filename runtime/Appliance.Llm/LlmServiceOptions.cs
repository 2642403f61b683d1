using Appliance.Inference;
using Appliance.Profiles;

namespace Appliance.Llm;

/// <summary>How the service runs models: provider chain, threads, memory budget, queue and concurrency.</summary>
public sealed record LlmServiceOptions
{
    /// <summary>
    /// The profile's execution-provider chain (the CPU provider ends every chain), threads and spin policy. Never
    /// spinning by default: measured on the forged 1.5B at 2 threads (docs/benchmarks.md, "LLM spin policies"),
    /// spinning inside a run decoded about 3 % faster alone, but beside a running Whisper the LLM made 30 % less
    /// progress; spinning always also burns a core between tokens.
    /// </summary>
    public InferenceSettings Inference { get; init; } = new();

    /// <summary>
    /// Prompt tokens given to the model at once. A graph with a full LM head returns logits for every position of a
    /// slice (one with a pruned head, logits [batch, 1, vocabulary], only for the last), so this bounds the prefill's
    /// memory: for a 152k-token vocabulary, 128 positions take 78 MB of logits, 512 take 311 MB, and a
    /// whole 3000-token prompt took 1.8 GB. Measured on the forged 1.5B with the int4 embedding, 512-token prompt,
    /// 2 threads (2026-11-30): peak RSS 1.69 / 1.74 / 1.84 / 2.04 GB at slices of 64 / 128 / 256 / 512, first token
    /// 3.23 / 3.15 / 3.22 / 3.26 s: smaller slices cost no speed down to 64 tokens.
    /// </summary>
    public int PrefillSliceTokens { get; init; } = 128;

    /// <summary>Bytes the loaded models (weights plus KV cache) and the process may use; 0 disables the guard.</summary>
    public long MemoryBudgetBytes { get; init; }

    /// <summary>Generations that run at once; each holds its own KV cache.</summary>
    public int MaxConcurrency { get; init; } = 1;

    /// <summary>Requests that may wait; one more is refused with <see cref="LlmErrorCodes.QueueFull"/>.</summary>
    public int QueueCapacity { get; init; } = 32;

    /// <summary>The resident memory of this process in bytes; replaced in tests.</summary>
    public Func<long> ResidentMemoryBytes { get; init; } = ResidentMemory.Bytes;

    /// <summary>Options from a device profile: its provider chain, threads and memory budget.</summary>
    public static LlmServiceOptions FromProfile(DeviceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new LlmServiceOptions
        {
            Inference = InferenceSettings.FromProfile(profile),
            MemoryBudgetBytes = profile.MemoryBudgetMb * 1024L * 1024L,
        };
    }
}
