namespace Appliance.Benchmarks.Llm;

/// <summary>Everything one <c>llm</c> benchmark measured, with the context needed to read it.</summary>
/// <param name="Command">The command line that produced it.</param>
/// <param name="Date">When it ran.</param>
/// <param name="Machine">Where it ran.</param>
/// <param name="LoadAverageBefore">The machine's load average before the engines ran.</param>
/// <param name="LoadAverageAfter">The machine's load average after the engines ran.</param>
/// <param name="Preset">The forged model's preset.</param>
/// <param name="Seed">The forged model's seed.</param>
/// <param name="ModelShapes">The preset's shapes, in words.</param>
/// <param name="Versions">ONNX Runtime GenAI and LLamaSharp versions.</param>
/// <param name="Threads">Threads of every engine.</param>
/// <param name="PromptTokens">Prompt length.</param>
/// <param name="DecodeTokens">Tokens generated per run.</param>
/// <param name="WarmupRounds">Unmeasured rounds.</param>
/// <param name="BandwidthMebibytes">Buffer streamed by the bandwidth measurement.</param>
/// <param name="BandwidthBytesPerSecond">Streaming read bandwidth with <paramref name="Threads"/> threads.</param>
/// <param name="Traffic">Bytes read per decoded token.</param>
/// <param name="Engines">One result per engine.</param>
internal sealed record LlmBenchReport(
    string Command,
    DateTimeOffset Date,
    MachineInfo Machine,
    string LoadAverageBefore,
    string LoadAverageAfter,
    string Preset,
    long Seed,
    string ModelShapes,
    string Versions,
    int Threads,
    int PromptTokens,
    int DecodeTokens,
    int WarmupRounds,
    int BandwidthMebibytes,
    double BandwidthBytesPerSecond,
    DecodeTraffic Traffic,
    IReadOnlyList<EngineResult> Engines)
{
    /// <summary>The acceptance target of the service's decode speed against the bare loop.</summary>
    public const double ServiceDecodeTarget = 0.97;

    /// <summary>Decode tokens/s memory bandwidth allows the ONNX model (service, bare loop).</summary>
    public double OnnxDecodeBound => BandwidthBytesPerSecond / Traffic.OnnxBytesPerToken;

    /// <summary>Decode tokens/s memory bandwidth allows the Q4_0 GGUF (llama.cpp).</summary>
    public double GgufDecodeBound => BandwidthBytesPerSecond / Traffic.GgufBytesPerToken;

    public double ServiceOverBareDecode => Ratio(LlmEngineKind.Service, LlmEngineKind.Bare, e => e.DecodeTokensPerSecond);

    public double ServiceOverBarePrefill => Ratio(LlmEngineKind.Service, LlmEngineKind.Bare, e => e.PrefillTokensPerSecond);

    public double NgramOverBareDecode => Ratio(LlmEngineKind.BareNgram, LlmEngineKind.Bare, e => e.DecodeTokensPerSecond);

    public double LlamaOverBareDecode => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.Bare, e => e.DecodeTokensPerSecond);

    public double LlamaOverBarePrefill => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.Bare, e => e.PrefillTokensPerSecond);

    public double LlamaOverServiceDecode => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.Service, e => e.DecodeTokensPerSecond);

    public double LlamaOverServicePrefill => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.Service, e => e.PrefillTokensPerSecond);

    public double ServiceOverNoCpuArenaDecode => Ratio(LlmEngineKind.Service, LlmEngineKind.ServiceNoCpuArena, e => e.DecodeTokensPerSecond);

    public double ServiceOverNoCpuArenaPrefill => Ratio(LlmEngineKind.Service, LlmEngineKind.ServiceNoCpuArena, e => e.PrefillTokensPerSecond);

    public double ServiceOverNoCpuArenaPeakMemory => Ratio(LlmEngineKind.Service, LlmEngineKind.ServiceNoCpuArena, e => e.PeakResidentBytes);

    public double SpinWithinRunOverServiceDecode => Ratio(LlmEngineKind.ServiceSpinWithinRun, LlmEngineKind.Service, e => e.DecodeTokensPerSecond);

    public double SpinWithinRunOverServicePrefill => Ratio(LlmEngineKind.ServiceSpinWithinRun, LlmEngineKind.Service, e => e.PrefillTokensPerSecond);

    public double LlamaOverSpinWithinRunDecode => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServiceSpinWithinRun, e => e.DecodeTokensPerSecond);

    public double LlamaOverSpinWithinRunPrefill => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServiceSpinWithinRun, e => e.PrefillTokensPerSecond);

    public double Int4EmbeddingOverServiceDecode => Ratio(LlmEngineKind.ServiceInt4Embedding, LlmEngineKind.Service, e => e.DecodeTokensPerSecond);

    public double Int4EmbeddingOverServicePrefill => Ratio(LlmEngineKind.ServiceInt4Embedding, LlmEngineKind.Service, e => e.PrefillTokensPerSecond);

    public double LlamaOverInt4EmbeddingDecode => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServiceInt4Embedding, e => e.DecodeTokensPerSecond);

    public double LlamaOverInt4EmbeddingPrefill => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServiceInt4Embedding, e => e.PrefillTokensPerSecond);

    public double PrunedHeadOverInt4EmbeddingDecode => Ratio(LlmEngineKind.ServicePrunedHead, LlmEngineKind.ServiceInt4Embedding, e => e.DecodeTokensPerSecond);

    public double PrunedHeadOverInt4EmbeddingPrefill => Ratio(LlmEngineKind.ServicePrunedHead, LlmEngineKind.ServiceInt4Embedding, e => e.PrefillTokensPerSecond);

    public double PrunedHeadOverInt4EmbeddingPeakMemory => Ratio(LlmEngineKind.ServicePrunedHead, LlmEngineKind.ServiceInt4Embedding, e => e.PeakResidentBytes);

    public double LlamaOverPrunedHeadDecode => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServicePrunedHead, e => e.DecodeTokensPerSecond);

    public double LlamaOverPrunedHeadPrefill => Ratio(LlmEngineKind.LlamaCpp, LlmEngineKind.ServicePrunedHead, e => e.PrefillTokensPerSecond);

    public double Fp16KvCacheOverPrunedHeadDecode => Ratio(LlmEngineKind.ServiceFp16KvCache, LlmEngineKind.ServicePrunedHead, e => e.DecodeTokensPerSecond);

    public double Fp16KvCacheOverPrunedHeadPrefill => Ratio(LlmEngineKind.ServiceFp16KvCache, LlmEngineKind.ServicePrunedHead, e => e.PrefillTokensPerSecond);

    public double Fp16KvCacheOverPrunedHeadPeakMemory => Ratio(LlmEngineKind.ServiceFp16KvCache, LlmEngineKind.ServicePrunedHead, e => e.PeakResidentBytes);

    /// <summary>Peak RSS of the service with the pruned head and an fp16 KV cache over llama.cpp's (whose own cache is fp16).</summary>
    public double Fp16KvCacheOverLlamaPeakMemory => Ratio(LlmEngineKind.ServiceFp16KvCache, LlmEngineKind.LlamaCpp, e => e.PeakResidentBytes);

    /// <summary>Peak RSS of the service in the leanest layout (int4 embedding, pruned LM head) over llama.cpp's (goal: at most 1).</summary>
    public double PrunedHeadOverLlamaPeakMemory => Ratio(LlmEngineKind.ServicePrunedHead, LlmEngineKind.LlamaCpp, e => e.PeakResidentBytes);

    /// <summary>Peak RSS of the service with the int4 embedding over llama.cpp's.</summary>
    public double Int4EmbeddingOverLlamaPeakMemory => Ratio(LlmEngineKind.ServiceInt4Embedding, LlmEngineKind.LlamaCpp, e => e.PeakResidentBytes);

    /// <summary>Peak RSS of the service with the float embedding over llama.cpp's.</summary>
    public double ServiceOverLlamaPeakMemory => Ratio(LlmEngineKind.Service, LlmEngineKind.LlamaCpp, e => e.PeakResidentBytes);

    public EngineResult Engine(LlmEngineKind kind) => Engines.Single(e => e.Engine == kind.CliName());

    /// <summary>The engine's decode speed as a fraction of the bound for the format it reads.</summary>
    public double FractionOfBound(EngineResult engine) =>
        engine.DecodeTokensPerSecond / (engine.Engine == LlmEngineKind.LlamaCpp.CliName() ? GgufDecodeBound : OnnxDecodeBound);

    private double Ratio(LlmEngineKind over, LlmEngineKind under, Func<EngineResult, double> figure) =>
        figure(Engine(over)) / figure(Engine(under));
}
