namespace Appliance.Llm;

/// <summary>An expected failure, as a value: a stable <see cref="Code"/> (see <see cref="LlmErrorCodes"/>) and a reason for people.</summary>
public sealed record LlmError(string Code, string Message)
{
    /// <summary>The code and the reason as <c>code: message</c>, for logs and exception messages.</summary>
    public override string ToString() => $"{Code}: {Message}";
}

/// <summary>The error codes the service returns; they are part of the MQTT contract and do not change.</summary>
public static class LlmErrorCodes
{
    /// <summary>No model with that id is loaded.</summary>
    public const string ModelNotFound = "model_not_found";

    /// <summary>The model folder is missing, corrupt or inconsistent, or no execution provider could create it.</summary>
    public const string ModelLoadFailed = "model_load_failed";

    /// <summary>Weights plus KV cache at the capped context would exceed the memory budget.</summary>
    public const string MemoryBudgetExceeded = "memory_budget_exceeded";

    /// <summary>Process resident memory is above the budget; the request was refused.</summary>
    public const string MemoryPressure = "memory_pressure";

    /// <summary>The prompt leaves no room in the model's capped context.</summary>
    public const string PromptTooLong = "prompt_too_long";

    /// <summary>The request queue is full.</summary>
    public const string QueueFull = "queue_full";

    /// <summary>The request is malformed (no prompt, duplicate id, bad value).</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>The runtime failed while generating.</summary>
    public const string GenerationFailed = "generation_failed";

    /// <summary>The service is shutting down.</summary>
    public const string ServiceStopped = "service_stopped";
}

/// <summary>Thrown by <see cref="LlmChatClient"/>, whose interface has no error values, when a request fails.</summary>
public sealed class LlmRequestFailedException : Exception
{
    /// <summary>A failure with code <see cref="LlmErrorCodes.GenerationFailed"/> and a generic reason.</summary>
    public LlmRequestFailedException()
        : this(new LlmError(LlmErrorCodes.GenerationFailed, "the request failed"))
    {
    }

    /// <summary>A failure with code <see cref="LlmErrorCodes.GenerationFailed"/> and this reason.</summary>
    /// <param name="message">The reason for people.</param>
    public LlmRequestFailedException(string message)
        : this(new LlmError(LlmErrorCodes.GenerationFailed, message))
    {
    }

    /// <summary>A failure with code <see cref="LlmErrorCodes.GenerationFailed"/>, this reason and its cause.</summary>
    /// <param name="message">The reason for people.</param>
    /// <param name="innerException">The exception that caused the failure.</param>
    public LlmRequestFailedException(string message, Exception innerException)
        : base(message, innerException) => Error = new LlmError(LlmErrorCodes.GenerationFailed, message);

    /// <summary>A failure carrying the error the service returned; the message is <c>code: message</c>.</summary>
    /// <param name="error">The error of the failed request.</param>
    /// <exception cref="ArgumentNullException"><paramref name="error"/> is null.</exception>
    public LlmRequestFailedException(LlmError error)
        : base(error?.ToString()) => Error = error ?? throw new ArgumentNullException(nameof(error));

    /// <summary>The failure as a value, with its stable code from <see cref="LlmErrorCodes"/>.</summary>
    public LlmError Error { get; }
}
