namespace Appliance.Llm;

/// <summary>Where a request waits in the queue: interactive (voice) requests go ahead of batch (summary) ones.</summary>
public enum LlmPriority
{
    /// <summary>A person is waiting (voice command): served before any batch request.</summary>
    Interactive = 0,

    /// <summary>Background work (meeting summaries): served when no interactive request waits.</summary>
    Batch = 1,
}

/// <summary>What happens to the text an R1-style model writes between <c>&lt;think&gt;</c> and <c>&lt;/think&gt;</c>.</summary>
public enum ReasoningMode
{
    /// <summary>Reasoning is generated and counted but not streamed.</summary>
    Drop = 0,

    /// <summary>Reasoning is streamed as <see cref="LlmReasoningDelta"/> events, apart from the answer.</summary>
    Separate = 1,
}

/// <summary>One chat message; <paramref name="Role"/> is <c>system</c>, <c>user</c> or <c>assistant</c>.</summary>
public sealed record LlmMessage(string Role, string Content);

/// <summary>
/// One generation. The prompt is either <see cref="Messages"/>, rendered with the model's own chat template, or
/// <see cref="PromptTokenIds"/> taken as they are. Unset sampling values keep the model's <c>genai_config.json</c>
/// search defaults; a temperature of 0 means greedy decoding.
/// </summary>
public sealed record LlmRequest
{
    /// <summary>Identifies the request for <see cref="LlmService.TryCancel"/>; unique among requests in flight.</summary>
    public string Id { get; init; } = Guid.NewGuid().ToString("N");

    /// <summary>The model to run; null takes <see cref="LlmService.DefaultModelId"/>.</summary>
    public string? ModelId { get; init; }

    /// <summary>
    /// The conversation, in order, rendered with the model's chat template. When it is empty and
    /// <see cref="PromptTokenIds"/> is unset, the request is refused with <see cref="LlmErrorCodes.InvalidRequest"/>.
    /// </summary>
    public IReadOnlyList<LlmMessage> Messages { get; init; } = [];

    /// <summary>A prompt already tokenized; when set, <see cref="Messages"/> is ignored and no template is applied.</summary>
    public IReadOnlyList<int>? PromptTokenIds { get; init; }

    /// <summary>The request's place in the queue; requests of one priority are served in arrival order.</summary>
    public LlmPriority Priority { get; init; } = LlmPriority.Interactive;

    /// <summary>Most tokens to generate, reasoning included; null lets the context decide.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sampling temperature; 0 or less decodes greedily, null keeps the model's default.</summary>
    public float? Temperature { get; init; }

    /// <summary>
    /// Nucleus sampling: draw from the most probable tokens whose probabilities add up to this (0 to 1); null keeps the
    /// model's default.
    /// </summary>
    public float? TopP { get; init; }

    /// <summary>Draw from this many most probable tokens when sampling; null keeps the model's default.</summary>
    public int? TopK { get; init; }

    /// <summary>Seed of the sampler's random numbers, for repeatable sampling; null keeps the model's default.</summary>
    public long? Seed { get; init; }

    /// <summary>Answer text that ends the generation; the stop sequence itself is not emitted.</summary>
    public IReadOnlyList<string> StopSequences { get; init; } = [];

    /// <summary>Whether the reasoning is dropped (the default) or streamed apart from the answer.</summary>
    public ReasoningMode Reasoning { get; init; } = ReasoningMode.Drop;

    /// <summary>
    /// Most reasoning tokens before the reasoning is closed and the answer forced; null takes the model spec's
    /// <c>ThinkingBudgetTokens</c>, and no budget when that is unset too.
    /// </summary>
    public int? ThinkingBudgetTokens { get; init; }

    /// <summary>
    /// A JSON schema the answer must be valid against, enforced while decoding (ONNX Runtime GenAI guidance): only
    /// tokens that keep the answer valid can be chosen, and the generation ends when the JSON value is complete. The
    /// answer is compact JSON (no whitespace between tokens). An R1-style model answers at once, its reasoning closed
    /// before the first token. Bound strings and arrays (<c>maxLength</c>, <c>maxItems</c>) so the answer fits
    /// <see cref="MaxTokens"/>.
    /// </summary>
    public string? AnswerJsonSchema { get; init; }

    /// <summary>
    /// Requests with the same key share a key-value cache of the prompt tokens they have in common (a constant system
    /// message, such as the voice model's instructions): the generator of the previous one is kept and rewound to
    /// them, so only the rest of the prompt is processed. It pays off only for a long constant prefix; each key keeps
    /// a generator with a key-value cache of the model's whole context. Null (the default) keeps nothing.
    /// </summary>
    public string? PrefixCacheKey { get; init; }

    /// <summary>Return the generated token ids in <see cref="LlmCompleted.TokenIds"/> (golden checks, OTA smoke tests).</summary>
    public bool IncludeTokenIds { get; init; }
}
