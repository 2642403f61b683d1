using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>The parameters of <c>llm.chat</c>. Only <see cref="Messages"/> is required.</summary>
public sealed record LlmChatParams
{
    /// <summary>The conversation, oldest first.</summary>
    public IReadOnlyList<LlmChatMessage>? Messages { get; init; }

    /// <summary>The model id; the profile's voice model (the default model) when null.</summary>
    public string? Model { get; init; }

    /// <summary><c>interactive</c> (voice, served first; the default) or <c>batch</c> (summaries).</summary>
    public string? Priority { get; init; }

    /// <summary>Tokens to generate at most, reasoning and answer together.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sampling temperature, 0 to 2; 0 is greedy.</summary>
    public float? Temperature { get; init; }

    /// <summary>Nucleus sampling mass, in (0, 1].</summary>
    public float? TopP { get; init; }

    /// <summary>Sample from the k most likely tokens only.</summary>
    public int? TopK { get; init; }

    /// <summary>Seed of the sampler, for repeatable answers.</summary>
    public long? Seed { get; init; }

    /// <summary>Texts that end the answer when generated (not included in it).</summary>
    public IReadOnlyList<string>? Stop { get; init; }

    /// <summary><c>drop</c> (the default) or <c>separate</c>: reasoning streamed as its own deltas and returned.</summary>
    public string? Reasoning { get; init; }

    /// <summary>Reasoning tokens at most before the daemon closes the reasoning.</summary>
    public int? ThinkingBudget { get; init; }

    /// <summary>The id for <c>llm.cancel</c>, 1 to 128 characters; one is generated when null.</summary>
    public string? RequestId { get; init; }

    /// <summary>Why the parameters cannot be served, or null when they can.</summary>
    /// <returns>A sentence for an <c>invalid_params</c> error, or null.</returns>
    public string? Problem()
    {
        if (Messages is not { Count: > 0 } || Messages.Any(m => m is null || string.IsNullOrEmpty(m.Role) || m.Content is null))
        {
            return "messages must be a non-empty list of {\"role\", \"content\"}";
        }

        if (Messages.Any(m => m.Role is not (LlmChatRoles.System or LlmChatRoles.User or LlmChatRoles.Assistant)))
        {
            return "a message role must be system, user or assistant";
        }

        if (Priority is not (null or LlmChatPriorities.Interactive or LlmChatPriorities.Batch))
        {
            return "priority must be interactive or batch";
        }

        if (Reasoning is not (null or LlmReasoningModes.Drop or LlmReasoningModes.Separate))
        {
            return "reasoning must be drop or separate";
        }

        return MaxTokens is < 1 ? "maxTokens must be at least 1"
            : ThinkingBudget is < 0 ? "thinkingBudget must not be negative"
            : Temperature is < 0 or > 2 ? "temperature must be between 0 and 2"
            : TopP is <= 0 or > 1 ? "topP must be in (0, 1]"
            : RequestId is { Length: 0 or > 128 } ? "requestId must be 1-128 characters"
            : Model is not null && !Identifiers.IsValidModelId(Model) ? $"model is not a valid model id ({Identifiers.ModelIdDescription})"
            : null;
    }
}

/// <summary>One turn of a conversation.</summary>
/// <param name="Role"><c>system</c>, <c>user</c> or <c>assistant</c> (see <see cref="LlmChatRoles"/>).</param>
/// <param name="Content">The text of the turn.</param>
public sealed record LlmChatMessage(string? Role, string? Content);

/// <summary>The values of <see cref="LlmChatMessage.Role"/>.</summary>
public static class LlmChatRoles
{
    /// <summary>Instructions for the model.</summary>
    public const string System = "system";

    /// <summary>The person talking to the appliance.</summary>
    public const string User = "user";

    /// <summary>The model's earlier answers.</summary>
    public const string Assistant = "assistant";
}

/// <summary>The values of <see cref="LlmChatParams.Priority"/>.</summary>
public static class LlmChatPriorities
{
    /// <summary>Voice requests, served first.</summary>
    public const string Interactive = "interactive";

    /// <summary>Background work such as summaries.</summary>
    public const string Batch = "batch";
}

/// <summary>The values of <see cref="LlmChatParams.Reasoning"/>.</summary>
public static class LlmReasoningModes
{
    /// <summary>Reasoning is generated but neither streamed nor returned.</summary>
    public const string Drop = "drop";

    /// <summary>Reasoning is streamed as its own deltas and returned in <see cref="LlmChatResult.Reasoning"/>.</summary>
    public const string Separate = "separate";
}

/// <summary>A streamed part of <c>llm.chat</c>; the JSON's <c>type</c> is <c>started</c>, <c>reasoning</c> or <c>answer</c>.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(LlmChatStarted), "started")]
[JsonDerivedType(typeof(LlmChatReasoning), "reasoning")]
[JsonDerivedType(typeof(LlmChatAnswer), "answer")]
public abstract record LlmChatDelta;

/// <summary>The generation left the queue and started.</summary>
/// <param name="RequestId">The request's id (the one given, or the one generated).</param>
/// <param name="Model">The model that serves it.</param>
/// <param name="QueueMs">Milliseconds it waited in the queue.</param>
public sealed record LlmChatStarted(string RequestId, string Model, long QueueMs) : LlmChatDelta;

/// <summary>Reasoning text (only with <c>"reasoning":"separate"</c>).</summary>
/// <param name="Text">The next piece of the reasoning, whole characters only.</param>
public sealed record LlmChatReasoning(string Text) : LlmChatDelta;

/// <summary>Answer text.</summary>
/// <param name="Text">The next piece of the answer, whole characters only.</param>
public sealed record LlmChatAnswer(string Text) : LlmChatDelta;

/// <summary>The final result of <c>llm.chat</c>.</summary>
public sealed record LlmChatResult
{
    /// <summary>The request's id.</summary>
    public required string RequestId { get; init; }

    /// <summary>The model that served it.</summary>
    public string? Model { get; init; }

    /// <summary>Why generation ended.</summary>
    public required FinishReason FinishReason { get; init; }

    /// <summary>True when generation ended inside the reasoning (the answer is then empty).</summary>
    public bool EndedInReasoning { get; init; }

    /// <summary>The whole answer, never with reasoning or its tags.</summary>
    public required string Answer { get; init; }

    /// <summary>The whole reasoning, with <c>"reasoning":"separate"</c>; null otherwise.</summary>
    public string? Reasoning { get; init; }

    /// <summary>Token counts and timings.</summary>
    public required LlmChatUsage Usage { get; init; }
}

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>The model ended its answer.</summary>
    [JsonStringEnumMemberName("stop")]
    Stop,

    /// <summary>A stop sequence was generated.</summary>
    [JsonStringEnumMemberName("stopSequence")]
    StopSequence,

    /// <summary><see cref="LlmChatParams.MaxTokens"/> was reached.</summary>
    [JsonStringEnumMemberName("maxTokens")]
    MaxTokens,

    /// <summary>The model's capped context is full.</summary>
    [JsonStringEnumMemberName("contextFull")]
    ContextFull,

    /// <summary><c>llm.cancel</c>, or the request's cancellation.</summary>
    [JsonStringEnumMemberName("cancelled")]
    Cancelled,
}

/// <summary>Token counts and timings of one generation.</summary>
/// <param name="PromptTokens">Tokens of the rendered prompt.</param>
/// <param name="CompletionTokens">Tokens generated, reasoning included.</param>
/// <param name="ReasoningTokens">Tokens of reasoning.</param>
/// <param name="TimeToFirstTokenMs">Milliseconds from start to the first generated token.</param>
/// <param name="TokensPerSecond">Generated tokens per second of decoding, rounded to 0.01.</param>
public sealed record LlmChatUsage(int PromptTokens, int CompletionTokens, int ReasoningTokens, double? TimeToFirstTokenMs, double TokensPerSecond);

/// <summary>The result of <c>models.list</c>.</summary>
/// <param name="DefaultModel">The model that serves requests naming none.</param>
/// <param name="Models">Every language model id the daemon knows.</param>
public sealed record ModelsListResult(string? DefaultModel, IReadOnlyList<LanguageModelInfo> Models);

/// <summary>A language model id and where it stands (<c>models.list</c>, and the result of <c>models.load</c>).</summary>
public sealed record LanguageModelInfo
{
    /// <summary>The model id.</summary>
    public required string Id { get; init; }

    /// <summary>The model folder on the device.</summary>
    public required string Path { get; init; }

    /// <summary><see cref="ModelStates.Loading"/>, <see cref="ModelStates.Loaded"/>, <see cref="ModelStates.Failed"/> or <see cref="ModelStates.Unloaded"/>.</summary>
    public required string State { get; init; }

    /// <summary>The execution provider it runs on, once loaded.</summary>
    public string? ExecutionProvider { get; init; }

    /// <summary>Providers of the chain that were tried and failed, each as "name: reason".</summary>
    public IReadOnlyList<string> ProviderFallbacks { get; init; } = [];

    /// <summary>Why the load failed.</summary>
    public RpcError? Error { get; init; }

    /// <summary>The context a request may use, in tokens: the model's own capped by the profile.</summary>
    public int? ContextTokens { get; init; }

    /// <summary>KV-cache bytes per token: 2 × layers × KV heads × head size × element size.</summary>
    public long? KvCacheBytesPerToken { get; init; }

    /// <summary>Bytes of the ONNX graph and its external data.</summary>
    public long? WeightBytes { get; init; }

    /// <summary>Weights plus the KV cache of every concurrent generation at the capped context, in bytes.</summary>
    public long? EstimatedBytes { get; init; }
}

/// <summary>The parameters of <c>models.load</c>.</summary>
public sealed record ModelsLoadParams
{
    /// <summary>The id to load the model under (an existing id is replaced).</summary>
    public string? Id { get; init; }

    /// <summary>The model folder; relative paths are under <c>Models:Root</c>.</summary>
    public string? Path { get; init; }

    /// <summary>Caps the model's context, in tokens.</summary>
    public int? ContextTokens { get; init; }

    /// <summary>The feature it serves on the status document; <c>llm</c> when null.</summary>
    public string? Feature { get; init; }
}

/// <summary>Parameters naming a loaded model: <c>{"id"}</c> (<c>models.unload</c>, <c>models.select</c>).</summary>
public sealed record ModelIdParams
{
    /// <summary>The model id.</summary>
    public string? Id { get; init; }
}

/// <summary>The result of <c>models.unload</c>.</summary>
/// <param name="Unloaded">The id unloaded; running generations on it finish first.</param>
public sealed record ModelsUnloadResult(string Unloaded);

/// <summary>The result of <c>models.select</c>.</summary>
/// <param name="DefaultModel">The model that now serves requests naming none.</param>
public sealed record ModelsSelectResult(string DefaultModel);
