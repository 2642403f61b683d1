using System.Text.Json;
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
        RpcReply reply;
        try
        {
            reply = await client.CallAsync("meetings.get", new { sessionId }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            return (null, $"meetings.get {sessionId}: {ex.Message}");
        }

        if (reply.Error is { } error)
        {
            return (null, $"meetings.get {sessionId}: {error.Code}: {error.Message}");
        }

        if (reply.Result is not { ValueKind: JsonValueKind.Object } result
            || !result.TryGetProperty("meeting", out var meeting)
            || !meeting.TryGetProperty("counters", out var counters)
            || !counters.TryGetProperty("accepted", out var accepted))
        {
            return (null, $"meetings.get {sessionId}: the answer has no meeting.counters.accepted");
        }

        var gaps = meeting.TryGetProperty("gaps", out var g) && g.ValueKind == JsonValueKind.Array
            ? g.EnumerateArray().Sum(gap => gap.TryGetProperty("count", out var c) ? c.GetInt64() : 0)
            : 0;
        var dropped = Counter(counters, "late") + Counter(counters, "afterStop") + Counter(counters, "codecMismatches") + Counter(counters, "invalidPayloads");
        var transcript = result.TryGetProperty("transcript", out var t) && t.ValueKind == JsonValueKind.Array ? t.GetArrayLength() : 0;
        var state = meeting.TryGetProperty("state", out var s) ? s.ToString() : "?";
        return (new MeetingRecord(state, accepted.GetInt64(), gaps, dropped, Counter(counters, "duplicates"), transcript), null);
    }

    /// <summary>Calls <c>meetings.delete</c>; the reason when it fails, else null.</summary>
    public static async Task<string?> DeleteAsync(ApplianceClient client, string sessionId, CancellationToken cancellationToken)
    {
        try
        {
            var reply = await client.CallAsync("meetings.delete", new { sessionId }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Error is { } error ? $"meetings.delete {sessionId}: {error.Code}: {error.Message}" : null;
        }
        catch (TimeoutException ex)
        {
            return $"meetings.delete {sessionId}: {ex.Message}";
        }
    }

    private static long Counter(JsonElement counters, string name) =>
        counters.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt64() : 0;
}
