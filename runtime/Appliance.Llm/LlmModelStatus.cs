namespace Appliance.Llm;

/// <summary>Where a model id stands.</summary>
public enum LlmModelState
{
    /// <summary>The folder is being loaded; a model already loaded under the id serves until the new one replaces it.</summary>
    Loading,

    /// <summary>The model is loaded and takes requests.</summary>
    Loaded,

    /// <summary>
    /// The last load failed (see <see cref="LlmModelStatus.Error"/>); a model loaded earlier under the id, if any, keeps
    /// serving.
    /// </summary>
    Failed,

    /// <summary>The model was unloaded; requests for the id fail with <see cref="LlmErrorCodes.ModelNotFound"/>.</summary>
    Unloaded,
}

/// <summary>What <c>models.list</c> and the retained status need to know about one model id.</summary>
public sealed record LlmModelStatus
{
    /// <summary>The id the model is loaded under, as named by <see cref="LlmRequest.ModelId"/>.</summary>
    public required string Id { get; init; }

    /// <summary>The model folder.</summary>
    public required string Path { get; init; }

    /// <summary>Where the model id stands now.</summary>
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
