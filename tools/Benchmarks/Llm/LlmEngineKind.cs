namespace Appliance.Benchmarks.Llm;

/// <summary>The ways the benchmark generates with the same weights.</summary>
internal enum LlmEngineKind
{
    /// <summary>
    /// Our <c>LlmService</c> end to end: queue, generation thread, event stream, with the daemon's default memory
    /// settings (ONNX Runtime's CPU arena on for language models, <c>Llm:CpuArena</c>; glibc's heap tuned,
    /// <c>Memory:MallocArenas</c> and <c>Memory:MmapThresholdBytes</c>).
    /// </summary>
    Service,

    /// <summary>
    /// Our <c>LlmService</c> with ONNX Runtime's CPU arena off (<c>Llm:CpuArena</c> false), glibc's heap tuned as the
    /// daemon's: what the arena costs in peak memory and saves in speed.
    /// </summary>
    ServiceNoCpuArena,

    /// <summary>
    /// Our <c>LlmService</c> with its intra-op threads spinning inside each graph run (<c>Llm:Spinning</c>
    /// <c>WithinRun</c>, for a board whose language model has cores to itself) instead of the default <c>Never</c>: what
    /// the sleeping threads cost in decode speed.
    /// </summary>
    ServiceSpinWithinRun,

    /// <summary>
    /// Our <c>LlmService</c> on the same weights with the embedding table stored as int4 codes for
    /// <c>GatherBlockQuantized</c> instead of float32 (the same logits): what the table's layout costs in memory.
    /// </summary>
    ServiceInt4Embedding,

    /// <summary>
    /// Our <c>LlmService</c> on the int4-embedding weights with the LM head pruned to the last position as well
    /// (<c>--prune-lm-head</c>, the GenAI builder's <c>prune_lm_head=true</c>; the same tokens): the leanest layout the
    /// builder offers, what computing logits for one position instead of every prompt position saves.
    /// </summary>
    ServicePrunedHead,

    /// <summary>
    /// Our <c>LlmService</c> on the pruned-head weights with an fp16 KV cache (<c>--kv-cache fp16</c>; attention in
    /// fp16, the rest fp32): what half the cache's bytes save in memory and in each decode step's reads, and what the
    /// fp16 attention costs.
    /// </summary>
    ServiceFp16KvCache,

    /// <summary>A bare ONNX Runtime GenAI generator loop on the same folder: the floor of the service's overhead.</summary>
    Bare,

    /// <summary>
    /// The bare loop with GenAI's n-gram speculative decoding (prompt lookup): drafts copied from the prompt and the
    /// tokens so far, verified in one multi-token step; what it gains depends on how much the output repeats its input.
    /// </summary>
    BareNgram,

    /// <summary>llama.cpp (through LLamaSharp) on the shape-identical Q4_0 GGUF.</summary>
    LlamaCpp,
}

/// <summary>Command-line names of <see cref="LlmEngineKind"/>.</summary>
internal static class LlmEngineKindNames
{
    public static IReadOnlyList<LlmEngineKind> All { get; } = [LlmEngineKind.Bare, LlmEngineKind.BareNgram, LlmEngineKind.Service, LlmEngineKind.ServiceNoCpuArena, LlmEngineKind.ServiceSpinWithinRun, LlmEngineKind.ServiceInt4Embedding, LlmEngineKind.ServicePrunedHead, LlmEngineKind.ServiceFp16KvCache, LlmEngineKind.LlamaCpp];

    public static string CliName(this LlmEngineKind kind) => kind switch
    {
        LlmEngineKind.Service => "service",
        LlmEngineKind.ServiceNoCpuArena => "service-no-cpu-arena",
        LlmEngineKind.ServiceSpinWithinRun => "service-spin-within-run",
        LlmEngineKind.ServiceInt4Embedding => "service-int4-embedding",
        LlmEngineKind.ServicePrunedHead => "service-pruned-head",
        LlmEngineKind.ServiceFp16KvCache => "service-fp16-kv",
        LlmEngineKind.Bare => "bare",
        LlmEngineKind.BareNgram => "bare-ngram",
        LlmEngineKind.LlamaCpp => "llama.cpp",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    public static LlmEngineKind Parse(string name)
    {
        foreach (var kind in All)
        {
            if (kind.CliName() == name)
            {
                return kind;
            }
        }

        throw new ArgumentException($"unknown engine '{name}'", nameof(name));
    }
}
