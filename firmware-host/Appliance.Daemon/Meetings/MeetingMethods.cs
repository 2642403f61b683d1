using System.Globalization;
using Appliance.Contracts;
using Appliance.Speech;
using Appliance.Speech.Whisper;
using Appliance.Daemon.Rpc;
using Appliance.Meetings;
using Appliance.Meetings.Pipeline;

namespace Appliance.Daemon.Meetings;

/// <summary><c>meetings.start</c>, also the control topic's <c>start</c>: starts a meeting, or confirms a repeated identical start.</summary>
internal sealed class MeetingsStartMethod(MeetingPipeline pipeline, MeetingSessionManager store, SpeechModels speech) : RpcHandler<MeetingStartParams, MeetingControlResult>(RpcMethods.MeetingsStart)
{
    /// <summary>When a full device may have a place again: meetings end minutes apart, so a minute.</summary>
    private const double BusyRetrySeconds = 60;

    public override bool InSessionOrder => true;

    /// <summary>A start on the fleet topic places the meeting on the hub that takes it (its reply's <c>servedBy</c>); a full hub answers busy and the client asks again.</summary>
    public override bool FleetServed => true;

    protected override async Task<RpcResult<MeetingControlResult>> HandleAsync(MeetingStartParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        var sessionId = parameters.SessionId ?? "";
        var start = parameters.ToParameters();
        if (AudioCodecs.Problem(start.Codec, start.SampleRate, start.Channels) is { } problem)
        {
            return Fail(RpcErrorCodes.InvalidParams, problem);
        }

        // A locale tag becomes the model's code before it is stored, so a repeated start with either spelling agrees.
        if (WhisperLanguages.Resolve(start.LanguageHint, speech.Transcription.Languages, out var language) is { } languageProblem)
        {
            return Fail(RpcErrorCodes.InvalidParams, languageProblem);
        }

        start = start with { LanguageHint = language };
        var result = await pipeline.StartAsync(sessionId, start, cancellationToken).ConfigureAwait(false);
        if (result == MeetingResult.StorageError && store.StorageProblem is { } storage)
        {
            return Fail(RpcErrorCodes.StorageError, $"meetings are unavailable on this device: {storage}");
        }

        if (result == MeetingResult.StorageFull)
        {
            var needs = store.MinFreeBytes > 0 ? $"; a new meeting needs {store.MinFreeBytes.ToString(CultureInfo.InvariantCulture)}" : "";
            return Fail(RpcErrorCodes.StorageFull, $"the meetings disk is full ({store.FreeBytes?.ToString(CultureInfo.InvariantCulture) ?? "unknown"} bytes free{needs}): delete meetings (meetings.delete) or free space, then start again");
        }

        if (result == MeetingResult.Busy)
        {
            // Refused whole, so that one stream more never takes audio from the ones already recording.
            return new(default, new RpcError(RpcErrorCodes.Busy, $"this device records {store.Capacity} meetings at once and all are taken: start it on another device now, or here later") { RetryAfterSeconds = BusyRetrySeconds });
        }

        return result is MeetingResult.Ok or MeetingResult.AlreadyDone
            ? Ok(new MeetingControlResult(sessionId, (store.Get(sessionId)?.State ?? MeetingState.Open).Phase()))
            : MeetingErrors.Fail<MeetingControlResult>(result, sessionId);
    }
}

/// <summary>
/// <c>meetings.stop</c>, also the control topic's <c>stop</c>: stops a meeting behind the frames received before it; the
/// transcript and summary are finished in the background.
/// </summary>
internal sealed class MeetingsStopMethod(MeetingPipeline pipeline) : RpcHandler<MeetingStopParams, MeetingControlResult>(RpcMethods.MeetingsStop)
{
    public override bool InSessionOrder => true;

    protected override async Task<RpcResult<MeetingControlResult>> HandleAsync(MeetingStopParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        var sessionId = parameters.SessionId ?? "";
        StopOutcome outcome;
        try
        {
            outcome = await pipeline.StopAsync(sessionId, parameters.LastSequence, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Fail(RpcErrorCodes.Unavailable, "the daemon is shutting down; send the stop again after it restarts");
        }

        if (outcome.Result is MeetingResult.StorageError or MeetingResult.StorageFull)
        {
            var full = outcome.Result == MeetingResult.StorageFull;
            return Fail(
                full ? RpcErrorCodes.StorageFull : RpcErrorCodes.StorageError,
                $"the stop of meeting '{sessionId}' could not be written{(full ? ", the disk is full" : "")}; nothing the meeting accepted is lost: {(full ? "free space (meetings.delete) and " : "")}send the stop again");
        }

        return outcome.Result is MeetingResult.Ok or MeetingResult.AlreadyDone
            ? Ok(new MeetingControlResult(sessionId, MeetingPhase.Stopping, outcome.Gaps))
            : MeetingErrors.Fail<MeetingControlResult>(outcome.Result, sessionId);
    }
}

/// <summary><c>meetings.abort</c>, also the control topic's <c>abort</c>: drops a meeting without a summary.</summary>
internal sealed class MeetingsAbortMethod(MeetingPipeline pipeline) : RpcHandler<SessionIdParams, MeetingControlResult>(RpcMethods.MeetingsAbort)
{
    public override bool InSessionOrder => true;

    protected override async Task<RpcResult<MeetingControlResult>> HandleAsync(SessionIdParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        var sessionId = parameters.SessionId ?? "";
        var result = await pipeline.AbortAsync(sessionId, cancellationToken).ConfigureAwait(false);
        return result is MeetingResult.Ok or MeetingResult.AlreadyDone
            ? Ok(new MeetingControlResult(sessionId, MeetingPhase.Aborted))
            : MeetingErrors.Fail<MeetingControlResult>(result, sessionId);
    }
}

/// <summary><c>meetings.list</c>: every meeting on the device with its state and counters.</summary>
internal sealed class MeetingsListMethod(MeetingSessionManager store, MeetingIngest ingest) : RpcHandler<EmptyParams, MeetingsListResult>(RpcMethods.MeetingsList)
{
    protected override Task<RpcResult<MeetingsListResult>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(Ok(new MeetingsListResult(store.List(), ingest.DroppedFrames)));
}

/// <summary><c>meetings.get</c> <c>{"sessionId"}</c>: a meeting's state, counters, gaps, transcript and summary.</summary>
internal sealed class MeetingsGetMethod(MeetingSessionManager store) : RpcHandler<SessionIdParams, MeetingsGetResult>(RpcMethods.MeetingsGet)
{
    protected override Task<RpcResult<MeetingsGetResult>> HandleAsync(SessionIdParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (parameters.SessionId is not { } sessionId)
        {
            return Task.FromResult(Fail(RpcErrorCodes.InvalidParams, "meetings.get needs {\"sessionId\": \"...\"}"));
        }

        return Task.FromResult(store.Get(sessionId) is { } info && store.ReadTranscript(sessionId) is { } transcript
            ? Ok(new MeetingsGetResult(info, transcript, store.ReadSummary(sessionId)))
            : MeetingErrors.Fail<MeetingsGetResult>(MeetingSessionManager.NotFound(sessionId), sessionId));
    }
}

/// <summary><c>meetings.delete</c> <c>{"sessionId"}</c>: removes the meeting's audio, transcript and summary (privacy).</summary>
internal sealed class MeetingsDeleteMethod(MeetingPipeline pipeline) : RpcHandler<SessionIdParams, MeetingsDeleteResult>(RpcMethods.MeetingsDelete)
{
    public override bool InSessionOrder => true;

    protected override async Task<RpcResult<MeetingsDeleteResult>> HandleAsync(SessionIdParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (parameters.SessionId is not { } sessionId)
        {
            return Fail(RpcErrorCodes.InvalidParams, "meetings.delete needs {\"sessionId\": \"...\"}");
        }

        var result = await pipeline.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
        return result == MeetingResult.Ok ? Ok(new MeetingsDeleteResult(sessionId)) : MeetingErrors.Fail<MeetingsDeleteResult>(result, sessionId);
    }
}

/// <summary>The contract's error for each refusal of the meeting store.</summary>
internal static class MeetingErrors
{
    public static RpcResult<T> Fail<T>(MeetingResult result, string sessionId)
    {
        var (code, message) = result switch
        {
            MeetingResult.UnknownSession => (RpcErrorCodes.UnknownSession, $"there is no meeting '{sessionId}'"),
            MeetingResult.InvalidSessionId => (RpcErrorCodes.InvalidParams, $"'{sessionId}' is not a valid session id ({Identifiers.SessionIdDescription})"),
            MeetingResult.InvalidArgument => (RpcErrorCodes.InvalidParams, "the start parameters are not valid"),
            MeetingResult.FolderTaken => (RpcErrorCodes.SessionConflict, $"the meetings folder already holds a folder '{sessionId}' that is not a meeting the daemon could read at start-up (see its log); it is kept untouched: use another session id"),
            MeetingResult.ParametersConflict => (RpcErrorCodes.SessionConflict, $"meeting '{sessionId}' is already running with other parameters"),
            MeetingResult.InvalidState => (RpcErrorCodes.InvalidState, $"meeting '{sessionId}' cannot do that in its current state"),
            MeetingResult.StorageFull => (RpcErrorCodes.StorageFull, $"meeting '{sessionId}' could not be written to disk: it is full; free space (meetings.delete) and try again"),
            _ => (RpcErrorCodes.StorageError, $"meeting '{sessionId}' could not be written to disk"),
        };
        return new RpcResult<T>(default, new RpcError(code, message));
    }
}
