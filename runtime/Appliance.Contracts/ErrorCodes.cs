namespace Appliance.Contracts;

/// <summary>
/// The stable error codes of structured error replies (<see cref="RpcError.Code"/>). They are part of the contract:
/// clients branch on them, so a code never changes its meaning.
/// </summary>
/// <remarks>
/// The language-model codes (<see cref="ModelNotFound"/> to <see cref="ServiceStopped"/>) are the ones the LLM runtime
/// (<c>Appliance.Llm.LlmErrorCodes</c>) returns and the daemon passes on unchanged; the runtime does not depend on this
/// contract, so the values stand in both places and the contract tests fail if they drift apart.
/// </remarks>
public static class RpcErrorCodes
{
    /// <summary>There is no such method; the message lists the methods there are.</summary>
    public const string MethodNotFound = "method_not_found";

    /// <summary>The payload is not JSON, or a field has the wrong JSON type.</summary>
    public const string InvalidJson = "invalid_json";

    /// <summary>The payload is JSON but not an object, or a parameter is wrong.</summary>
    public const string InvalidParams = "invalid_params";

    /// <summary>The payload is over the method's size limit.</summary>
    public const string PayloadTooLarge = "payload_too_large";

    /// <summary>Too many requests are waiting; retry later.</summary>
    public const string Busy = "busy";

    /// <summary>
    /// The request was published with the retain flag (or replayed from the broker's retained store). Requests must
    /// not be retained: the daemon never executes one and clears it from the broker.
    /// </summary>
    public const string RetainedRequest = "retained_request";

    /// <summary>The feature behind the method is not running (no model installed, …).</summary>
    public const string Unavailable = "unavailable";

    /// <summary>The request was cancelled (by the client or a shutdown).</summary>
    public const string Cancelled = "cancelled";

    /// <summary>A bug; the daemon logged it and keeps running.</summary>
    public const string Internal = "internal_error";

    /// <summary>The speech model failed on this audio.</summary>
    public const string TranscriptionFailed = "transcription_failed";

    /// <summary>No language model with that id is loaded.</summary>
    public const string ModelNotFound = "model_not_found";

    /// <summary>The model folder is missing, corrupt or inconsistent, or no execution provider could create it.</summary>
    public const string ModelLoadFailed = "model_load_failed";

    /// <summary>Weights plus KV cache at the capped context would exceed the profile's memory budget.</summary>
    public const string MemoryBudgetExceeded = "memory_budget_exceeded";

    /// <summary>Resident memory is over the budget now; the request was refused.</summary>
    public const string MemoryPressure = "memory_pressure";

    /// <summary>The prompt leaves no room in the model's capped context.</summary>
    public const string PromptTooLong = "prompt_too_long";

    /// <summary>The language model's request queue is full.</summary>
    public const string QueueFull = "queue_full";

    /// <summary>The generation request is malformed.</summary>
    public const string InvalidRequest = "invalid_request";

    /// <summary>The runtime failed while generating.</summary>
    public const string GenerationFailed = "generation_failed";

    /// <summary>The language model service is shutting down.</summary>
    public const string ServiceStopped = "service_stopped";

    /// <summary>There is no meeting with this session id.</summary>
    public const string UnknownSession = "unknown_session";

    /// <summary>The meeting was already started with other parameters.</summary>
    public const string SessionConflict = "session_conflict";

    /// <summary>The meeting's state does not allow the command (for example stopping an aborted meeting).</summary>
    public const string InvalidState = "invalid_state";

    /// <summary>The meeting could not be written to disk.</summary>
    public const string StorageError = "storage_error";

    /// <summary>The meetings disk is full (or below the free space a new meeting needs): free space, then try again.</summary>
    public const string StorageFull = "storage_full";

    /// <summary>Every code above, for documentation checks.</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        MethodNotFound, InvalidJson, InvalidParams, PayloadTooLarge, Busy, RetainedRequest, Unavailable, Cancelled, Internal, TranscriptionFailed,
        ModelNotFound, ModelLoadFailed, MemoryBudgetExceeded, MemoryPressure, PromptTooLong, QueueFull, InvalidRequest, GenerationFailed, ServiceStopped,
        UnknownSession, SessionConflict, InvalidState, StorageError, StorageFull,
    ];
}

/// <summary>The error codes of a failed sensor reading on the telemetry topic (<see cref="TelemetryReading.Error"/>).</summary>
/// <remarks>The values are those of <c>Appliance.Hardware.SensorErrorCodes</c>; the contract tests keep the two in step.</remarks>
public static class SensorErrorCodes
{
    /// <summary>The sensor's frame failed its checksum.</summary>
    public const string ChecksumFailed = "checksum_failed";

    /// <summary>The bus transfer failed.</summary>
    public const string BusError = "bus_error";

    /// <summary>The sensor gave no data.</summary>
    public const string NoData = "no_data";

    /// <summary>Every code above.</summary>
    public static IReadOnlyList<string> All { get; } = [ChecksumFailed, BusError, NoData];
}
