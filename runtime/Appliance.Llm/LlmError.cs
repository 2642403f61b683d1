namespace Appliance.Llm;

/// <summary>An expected failure, as a value: a stable <see cref="Code"/> (see <see cref="LlmErrorCodes"/>) and a reason for people.</summary>
public sealed record LlmError(string Code, string Message)
{
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
    public LlmRequestFailedException()
        : this(new LlmError(LlmErrorCodes.GenerationFailed, "the request failed"))
    {
    }

    public LlmRequestFailedException(string message)
        : this(new LlmError(LlmErrorCodes.GenerationFailed, message))
    {
    }

    public LlmRequestFailedException(string message, Exception innerException)
        : base(message, innerException) => Error = new LlmError(LlmErrorCodes.GenerationFailed, message);

    public LlmRequestFailedException(LlmError error)
        : base(error?.ToString()) => Error = error ?? throw new ArgumentNullException(nameof(error));

    public LlmError Error { get; }
}
