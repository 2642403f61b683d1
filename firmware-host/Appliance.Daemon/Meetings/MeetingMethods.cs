using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Meetings;

namespace Appliance.Daemon.Meetings;

/// <summary><c>meetings.list</c>: every meeting on the device with its state and counters.</summary>
internal sealed class MeetingsListMethod(MeetingService meetings) : IRpcMethod
{
    public string Name => "meetings.list";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(new { meetings = meetings.Sessions.List(), droppedFrames = meetings.DroppedFrames }));
}

/// <summary><c>meetings.get</c> <c>{"sessionId"}</c>: a meeting's state, counters, gaps, transcript and summary.</summary>
internal sealed class MeetingsGetMethod(MeetingService meetings) : IRpcMethod
{
    public string Name => "meetings.get";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        if (!request.Params.TryGetProperty("sessionId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return Task.FromResult(RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "meetings.get needs {\"sessionId\": \"...\"}"));
        }

        var sessionId = id.GetString()!;
        return Task.FromResult(meetings.Sessions.Get(sessionId) is { } info
            ? RpcOutcome.Success(new { meeting = info, transcript = meetings.Sessions.ReadTranscript(sessionId), summary = meetings.Sessions.ReadSummary(sessionId) })
            : RpcOutcome.Failure("unknown_session", $"there is no meeting '{sessionId}'"));
    }
}

/// <summary><c>meetings.delete</c> <c>{"sessionId"}</c>: removes the meeting's audio, transcript and summary (privacy).</summary>
internal sealed class MeetingsDeleteMethod(MeetingService meetings) : IRpcMethod
{
    public string Name => "meetings.delete";

    public async Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        if (!request.Params.TryGetProperty("sessionId", out var id) || id.ValueKind != JsonValueKind.String)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "meetings.delete needs {\"sessionId\": \"...\"}");
        }

        return await meetings.DeleteSessionAsync(id.GetString()!).ConfigureAwait(false) is { } error
            ? RpcOutcome.Failure(error.Code, error.Message)
            : RpcOutcome.Success(new { deleted = id.GetString() });
    }
}
