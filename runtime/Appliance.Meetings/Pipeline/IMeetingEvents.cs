namespace Appliance.Meetings.Pipeline;

/// <summary>
/// Where the meeting pipeline tells the earbuds how a meeting goes: the daemon publishes these on the meeting's
/// topics. Called from the pipeline's own tasks, concurrently for different sessions; an implementation must not throw
/// for a lost connection (a message that cannot be sent is the transport's loss, the meeting goes on).
/// </summary>
public interface IMeetingEvents
{
    /// <summary>A transcript segment, on disk before this is called.</summary>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="segment">The segment.</param>
    /// <param name="cancellationToken">Cancelled when the meeting is aborted or the daemon stops.</param>
    /// <returns>A task that completes once the segment is handed to the transport.</returns>
    Task TranscriptAsync(string sessionId, TranscriptSegment segment, CancellationToken cancellationToken);

    /// <summary>A progress event, its counters filled in.</summary>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="progress">The event.</param>
    /// <param name="cancellationToken">Cancelled when the meeting is aborted or the daemon stops.</param>
    /// <returns>A task that completes once the event is handed to the transport.</returns>
    Task ProgressAsync(string sessionId, MeetingProgress progress, CancellationToken cancellationToken);

    /// <summary>The summary of a completed meeting, on disk before this is called; the transport keeps it (retained).</summary>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="summary">The summary.</param>
    /// <param name="cancellationToken">Cancelled when the daemon stops.</param>
    /// <returns>A task that completes once the summary is handed to the transport.</returns>
    Task SummaryAsync(string sessionId, MeetingSummary summary, CancellationToken cancellationToken);

    /// <summary>The meeting was deleted: whatever the transport kept of it (the retained summary) goes too.</summary>
    /// <param name="sessionId">The meeting.</param>
    /// <param name="cancellationToken">Cancelled when the daemon stops.</param>
    /// <returns>A task that completes once the clearing is handed to the transport.</returns>
    Task DeletedAsync(string sessionId, CancellationToken cancellationToken);
}

/// <summary>Fills a progress event's counters from the store and hands it to <see cref="IMeetingEvents"/>.</summary>
internal sealed class MeetingProgressReporter(MeetingSessionManager store, IMeetingEvents events, TimeProvider time)
{
    /// <summary>Publishes <paramref name="progress"/> with the session's frame counters, its transcript checkpoint (unless given) and the time.</summary>
    public Task ReportAsync(string sessionId, MeetingProgress progress, CancellationToken cancellationToken)
    {
        if (store.Get(sessionId) is { } info)
        {
            progress = progress with
            {
                TranscribedSeconds = progress.TranscribedSeconds ?? info.TranscribedSeconds,
                AcceptedFrames = info.Counters.Accepted,
                Duplicates = info.Counters.Duplicates,
                LostFrames = Math.Max(0, info.Gaps.Sum(g => g.Count) - info.Counters.StorageRefused),
                StorageRefusedFrames = info.Counters.StorageRefused,
                DroppedFrames = info.Counters.Dropped,
            };
        }

        return events.ProgressAsync(sessionId, progress with { At = time.GetUtcNow() }, cancellationToken);
    }
}
