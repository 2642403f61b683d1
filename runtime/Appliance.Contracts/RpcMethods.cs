using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Appliance.Profiles;

namespace Appliance.Contracts;

/// <summary>
/// One RPC method of contract v1: its name (the last level of <c>rpc/{method}</c>) and the types of its parameters, its
/// final result and, for streaming methods, its deltas. Immutable; thread-safe.
/// </summary>
public abstract class RpcMethod
{
    private protected RpcMethod(string name, Type paramsType, Type resultType, Type? deltaType)
    {
        Name = name;
        ParamsType = paramsType;
        ResultType = resultType;
        DeltaType = deltaType;
    }

    /// <summary>The method name, for example <c>llm.chat</c>.</summary>
    public string Name { get; }

    /// <summary>The type of the request payload.</summary>
    public Type ParamsType { get; }

    /// <summary>The type of the final reply's <c>result</c>.</summary>
    public Type ResultType { get; }

    /// <summary>The type of the streamed replies' <c>delta</c>; null for a method that does not stream.</summary>
    public Type? DeltaType { get; }

    /// <inheritdoc />
    public override string ToString() => Name;
}

/// <summary>A method with parameters of <typeparamref name="TParams"/> and a result of <typeparamref name="TResult"/>.</summary>
/// <typeparam name="TParams">The request payload.</typeparam>
/// <typeparam name="TResult">The final result.</typeparam>
public class RpcMethod<TParams, TResult> : RpcMethod
{
    internal RpcMethod(string name)
        : this(name, null)
    {
    }

    private protected RpcMethod(string name, Type? deltaType)
        : base(name, typeof(TParams), typeof(TResult), deltaType)
    {
        ParamsInfo = ContractJson.Info<TParams>();
        ResultInfo = ContractJson.Info<TResult>();
    }

    /// <summary>How the parameters are serialized.</summary>
    public JsonTypeInfo<TParams> ParamsInfo { get; }

    /// <summary>How the result is serialized.</summary>
    public JsonTypeInfo<TResult> ResultInfo { get; }

    /// <summary>The parameters as a JSON element.</summary>
    /// <param name="parameters">The parameters.</param>
    public JsonElement SerializeParams(TParams parameters) => JsonSerializer.SerializeToElement(parameters, ParamsInfo);

    /// <summary>Reads the parameters of a request.</summary>
    /// <param name="parameters">The request payload (a JSON object).</param>
    /// <returns>The parameters; null for the JSON literal null.</returns>
    /// <exception cref="JsonException">A field has the wrong JSON type.</exception>
    public TParams? DeserializeParams(JsonElement parameters) => parameters.Deserialize(ParamsInfo);

    /// <summary>The result as a JSON element, for the final reply.</summary>
    /// <param name="result">The result.</param>
    public JsonElement SerializeResult(TResult result) => JsonSerializer.SerializeToElement(result, ResultInfo);

    /// <summary>Reads the result of a final reply.</summary>
    /// <param name="reply">A final reply of this method.</param>
    /// <returns>The result, or null when the reply holds an error.</returns>
    /// <exception cref="JsonException">The result does not fit <typeparamref name="TResult"/>.</exception>
    public TResult? ReadResult(RpcReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply.Result is { } result ? result.Deserialize(ResultInfo) : default;
    }

    /// <summary>A final reply of this method as a typed result: the result, or the daemon's structured error.</summary>
    /// <param name="reply">A final reply of this method.</param>
    /// <returns>The typed outcome.</returns>
    /// <exception cref="JsonException">The result does not fit <typeparamref name="TResult"/>.</exception>
    public RpcResult<TResult> ToResult(RpcReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply.Error is { } error ? new RpcResult<TResult>(default, error) : new RpcResult<TResult>(ReadResult(reply), null);
    }
}

/// <summary>A method that streams deltas of <typeparamref name="TDelta"/> before its final result.</summary>
/// <typeparam name="TParams">The request payload.</typeparam>
/// <typeparam name="TDelta">Each streamed part (a polymorphic type with a <c>type</c> discriminator).</typeparam>
/// <typeparam name="TResult">The final result.</typeparam>
public sealed class StreamingRpcMethod<TParams, TDelta, TResult> : RpcMethod<TParams, TResult>
{
    internal StreamingRpcMethod(string name)
        : base(name, typeof(TDelta))
    {
        DeltaInfo = ContractJson.Info<TDelta>();
    }

    /// <summary>How a delta is serialized.</summary>
    public JsonTypeInfo<TDelta> DeltaInfo { get; }

    /// <summary>A delta as a JSON element, for a streamed reply.</summary>
    /// <param name="delta">The delta.</param>
    public JsonElement SerializeDelta(TDelta delta) => JsonSerializer.SerializeToElement(delta, DeltaInfo);

    /// <summary>Reads the delta of a streamed reply.</summary>
    /// <param name="reply">A reply of this method.</param>
    /// <returns>The delta, or null when the reply holds none.</returns>
    /// <exception cref="JsonException">The delta does not fit <typeparamref name="TDelta"/>.</exception>
    public TDelta? ReadDelta(RpcReply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply.Delta is { } delta ? delta.Deserialize(DeltaInfo) : default;
    }
}

/// <summary>Every RPC method of contract v1.</summary>
public static class RpcMethods
{
    /// <summary><c>status.get</c>: the status document as it stands now.</summary>
    public static RpcMethod<EmptyParams, StatusDocument> StatusGet { get; } = new("status.get");

    /// <summary><c>profile.get</c>: the device profile the daemon runs with.</summary>
    public static RpcMethod<EmptyParams, DeviceProfile> ProfileGet { get; } = new("profile.get");

    /// <summary><c>health.get</c>: every health check.</summary>
    public static RpcMethod<EmptyParams, HealthReport> HealthGet { get; } = new("health.get");

    /// <summary><c>fleet.status</c>: every device of this device's fleet group, from their retained status documents.</summary>
    public static RpcMethod<EmptyParams, FleetStatusResult> FleetStatus { get; } = new("fleet.status");

    /// <summary><c>llm.chat</c>: a generation, streamed.</summary>
    public static StreamingRpcMethod<LlmChatParams, LlmChatDelta, LlmChatResult> LlmChat { get; } = new("llm.chat");

    /// <summary><c>llm.cancel</c>: stops a queued or running generation.</summary>
    public static RpcMethod<RequestIdParams, CancelResult> LlmCancel { get; } = new("llm.cancel");

    /// <summary><c>models.list</c>: every language model the daemon knows.</summary>
    public static RpcMethod<EmptyParams, ModelsListResult> ModelsList { get; } = new("models.list");

    /// <summary><c>models.load</c>: loads or replaces a language model.</summary>
    public static RpcMethod<ModelsLoadParams, LanguageModelInfo> ModelsLoad { get; } = new("models.load");

    /// <summary><c>models.unload</c>: frees a language model once its generations finish.</summary>
    public static RpcMethod<ModelIdParams, ModelsUnloadResult> ModelsUnload { get; } = new("models.unload");

    /// <summary><c>models.select</c>: the default model for requests that name none.</summary>
    public static RpcMethod<ModelIdParams, ModelsSelectResult> ModelsSelect { get; } = new("models.select");

    /// <summary><c>asr.transcribe</c>: speech to text, streamed by segment.</summary>
    public static StreamingRpcMethod<AsrTranscribeParams, AsrTranscribeDelta, AsrTranscribeResult> AsrTranscribe { get; } = new("asr.transcribe");

    /// <summary><c>asr.cancel</c>: stops a transcription at its next decoder step.</summary>
    public static RpcMethod<RequestIdParams, CancelResult> AsrCancel { get; } = new("asr.cancel");

    /// <summary><c>voice.text</c>: an utterance as text to a checked intent of the device's command schema.</summary>
    public static RpcMethod<VoiceTextParams, VoiceIntent> VoiceText { get; } = new("voice.text");

    /// <summary><c>voice.audio</c>: a spoken command as an audio clip, transcribed, then interpreted as <c>voice.text</c> does.</summary>
    public static RpcMethod<VoiceAudioParams, VoiceIntent> VoiceAudio { get; } = new("voice.audio");

    /// <summary><c>voice.confirm</c>: yes or no to the intent that waits for its confirmation.</summary>
    public static RpcMethod<VoiceConfirmParams, VoiceIntent> VoiceConfirm { get; } = new("voice.confirm");

    /// <summary><c>meetings.start</c>: starts a meeting (also the control topic's <c>start</c>).</summary>
    public static RpcMethod<MeetingStartParams, MeetingControlResult> MeetingsStart { get; } = new("meetings.start");

    /// <summary><c>meetings.stop</c>: stops a meeting; its transcript and summary are finished (also the control topic's <c>stop</c>).</summary>
    public static RpcMethod<MeetingStopParams, MeetingControlResult> MeetingsStop { get; } = new("meetings.stop");

    /// <summary><c>meetings.abort</c>: drops a meeting without a summary (also the control topic's <c>abort</c>).</summary>
    public static RpcMethod<SessionIdParams, MeetingControlResult> MeetingsAbort { get; } = new("meetings.abort");

    /// <summary><c>meetings.list</c>: every meeting on the device.</summary>
    public static RpcMethod<EmptyParams, MeetingsListResult> MeetingsList { get; } = new("meetings.list");

    /// <summary><c>meetings.get</c>: one meeting with its transcript and summary.</summary>
    public static RpcMethod<SessionIdParams, MeetingsGetResult> MeetingsGet { get; } = new("meetings.get");

    /// <summary><c>meetings.delete</c>: removes a meeting's audio, transcript and summary.</summary>
    public static RpcMethod<SessionIdParams, MeetingsDeleteResult> MeetingsDelete { get; } = new("meetings.delete");

    /// <summary><c>ota.check</c>: reads the update repository and says what this device would install.</summary>
    public static RpcMethod<OtaBundleParams, OtaCheckResult> OtaCheck { get; } = new("ota.check");

    /// <summary><c>ota.update</c>: starts installing the newest (or the named) bundle; stages go to <c>ota/progress</c>.</summary>
    public static RpcMethod<OtaBundleParams, OtaUpdateResult> OtaUpdate { get; } = new("ota.update");

    /// <summary><c>ota.status</c>: the slots, the health window, the last rollback and the last progress.</summary>
    public static RpcMethod<EmptyParams, OtaState> OtaStatus { get; } = new("ota.status");

    /// <summary><c>ota.rollback</c>: goes back to the models before the last switch; the daemon restarts into them.</summary>
    public static RpcMethod<OtaRollbackParams, OtaState> OtaRollback { get; } = new("ota.rollback");

    /// <summary>Every method above, in this order.</summary>
    public static IReadOnlyList<RpcMethod> All { get; } =
    [
        StatusGet, ProfileGet, HealthGet, FleetStatus, LlmChat, LlmCancel, ModelsList, ModelsLoad, ModelsUnload, ModelsSelect, AsrTranscribe, AsrCancel, VoiceText, VoiceAudio, VoiceConfirm,
        MeetingsStart, MeetingsStop, MeetingsAbort, MeetingsList, MeetingsGet, MeetingsDelete, OtaCheck, OtaUpdate, OtaStatus, OtaRollback,
    ];
}
