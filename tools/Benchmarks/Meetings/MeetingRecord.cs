using Appliance.Contracts;

namespace Appliance.Benchmarks.Meetings;

/// <summary>What <c>meetings.get</c> says about one meeting: its state, counters, gaps and transcript length.</summary>
/// <param name="State">Life-cycle state as the daemon names it (open, stopping, completed, aborted).</param>
/// <param name="Accepted">Frames journaled (<c>meeting.counters.accepted</c>).</param>
/// <param name="GapFrames">Frames missing in the sequence (<c>meeting.gaps[].count</c> summed).</param>
/// <param name="Dropped">Frames the session received and dropped: late, after the stop, another codec or unusable.</param>
/// <param name="Duplicates">Frames received twice and dropped.</param>
/// <param name="TranscriptSegments">Segments in the stored transcript.</param>
internal sealed record MeetingRecord(string State, long Accepted, long GapFrames, long Dropped, long Duplicates, int TranscriptSegments)
{
    /// <summary>Calls <c>meetings.get</c>; null with the reason when the call fails or the answer lacks the accepted count.</summary>
    public static async Task<(MeetingRecord? Record, string? Problem)> GetAsync(ApplianceClient client, string sessionId, CancellationToken cancellationToken)
    {
        RpcResult<MeetingsGetResult> reply;
        try
        {
            reply = await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = sessionId }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            return (null, $"meetings.get {sessionId}: {ex.Message}");
        }

        if (reply.Error is { } error)
        {
            return (null, $"meetings.get {sessionId}: {error.Code}: {error.Message}");
        }

        var (meeting, transcript, _) = reply.Value!;
        var state = ContractJson.WireName(meeting.State);
        return (new MeetingRecord(state, meeting.Counters.Accepted, meeting.Gaps.Sum(g => g.Count), meeting.Counters.Dropped, meeting.Counters.Duplicates, transcript.Count), null);
    }

    /// <summary>Calls <c>meetings.delete</c>; the reason when it fails, else null.</summary>
    public static async Task<string?> DeleteAsync(ApplianceClient client, string sessionId, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await client.InvokeAsync(RpcMethods.MeetingsDelete, new SessionIdParams { SessionId = sessionId }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Error is { } error ? $"meetings.delete {sessionId}: {error.Code}: {error.Message}" : null;
        }
        catch (TimeoutException ex)
        {
            return $"meetings.delete {sessionId}: {ex.Message}";
        }
    }
}
