namespace Appliance.Llm;

/// <summary>Where a model id stands.</summary>
public enum LlmModelState
{
    Loading,
    Loaded,
    Failed,
    Unloaded,
}

/// <summary>What <c>models.list</c> and the retained status need to know about one model id.</summary>
public sealed record LlmModelStatus
{
    public required string Id { get; init; }

    /// <summary>The model folder.</summary>
    public required string Path { get; init; }

    public required LlmModelState State { get; init; }

    /// <summary>The execution provider the model runs on, once loaded.</summary>
    public string? ExecutionProvider { get; init; }

    /// <summary>Providers of the chain that were tried and failed, with the reason.</summary>
    public IReadOnlyList<string> ProviderFallbacks { get; init; } = [];

    /// <summary>Why the load failed, when <see cref="State"/> is <see cref="LlmModelState.Failed"/>.</summary>
    public LlmError? Error { get; init; }

    /// <summary>The context a request may use: the model's context length capped by the spec.</summary>
    public int? ContextTokens { get; init; }

    /// <summary>KV-cache bytes per token: 2 × layers × KV heads × head size × element size.</summary>
    public long? KvCacheBytesPerToken { get; init; }

    /// <summary>Bytes of the ONNX graph and its external data.</summary>
    public long? WeightBytes { get; init; }

    /// <summary>Weights plus the KV cache of every concurrent generation at the capped context.</summary>
    public long? EstimatedBytes { get; init; }
}
