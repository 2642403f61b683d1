namespace Appliance.Llm;

/// <summary>
/// One event of a generation stream. A stream holds <see cref="LlmStarted"/> (once the request leaves the queue),
/// any number of deltas, and ends with exactly one <see cref="LlmCompleted"/> or <see cref="LlmFailed"/>.
/// </summary>
public abstract record LlmEvent;

/// <summary>The request left the queue and its model is generating.</summary>
/// <param name="ModelId">The model that serves it.</param>
/// <param name="QueueTime">Time spent waiting in the queue.</param>
public sealed record LlmStarted(string ModelId, TimeSpan QueueTime) : LlmEvent;

/// <summary>Answer text; never holds <c>&lt;think&gt;</c>, <c>&lt;/think&gt;</c> or reasoning.</summary>
public sealed record LlmAnswerDelta(string Text) : LlmEvent;

/// <summary>Reasoning text, only with <see cref="ReasoningMode.Separate"/>.</summary>
public sealed record LlmReasoningDelta(string Text) : LlmEvent;

/// <summary>The generation ended normally, by a limit or by cancellation.</summary>
/// <param name="Reason">Why it ended.</param>
/// <param name="EndedInReasoning">True when it ended before the reasoning closed: the answer is then empty.</param>
/// <param name="Usage">Token counts and timings.</param>
/// <param name="TokenIds">The generated token ids (end-of-sequence included, forced <c>&lt;/think&gt;</c> tokens not), when <see cref="LlmRequest.IncludeTokenIds"/> asked for them.</param>
public sealed record LlmCompleted(LlmFinishReason Reason, bool EndedInReasoning, LlmUsage Usage, IReadOnlyList<int>? TokenIds = null) : LlmEvent;

/// <summary>The request was refused or failed; <see cref="LlmError.Code"/> says why.</summary>
public sealed record LlmFailed(LlmError Error) : LlmEvent;

/// <summary>Why a generation ended.</summary>
public enum LlmFinishReason
{
    /// <summary>The model wrote an end-of-sequence token.</summary>
    Stop,

    /// <summary>The answer reached one of the request's stop sequences.</summary>
    StopSequence,

    /// <summary>The request's <see cref="LlmRequest.MaxTokens"/> were generated.</summary>
    MaxTokens,

    /// <summary>The capped context is full.</summary>
    ContextFull,

    /// <summary>The request was cancelled.</summary>
    Cancelled,
}

/// <summary>Token counts and timings of one generation.</summary>
/// <param name="PromptTokens">Tokens of the rendered prompt.</param>
/// <param name="CompletionTokens">Tokens the model generated, reasoning included (forced <c>&lt;/think&gt;</c> tokens are not).</param>
/// <param name="ReasoningTokens">Generated tokens that were reasoning.</param>
/// <param name="TimeToFirstToken">From submission to the first generated token (queue and prompt processing included); null when none was generated.</param>
/// <param name="TokensPerSecond">Completion tokens divided by the time from leaving the queue to the end.</param>
/// <param name="CachedPromptTokens">Prompt tokens taken from a kept key-value cache (<see cref="LlmRequest.PrefixCacheKey"/>) rather than processed.</param>
public sealed record LlmUsage(int PromptTokens, int CompletionTokens, int ReasoningTokens, TimeSpan? TimeToFirstToken, double TokensPerSecond, int CachedPromptTokens = 0);
