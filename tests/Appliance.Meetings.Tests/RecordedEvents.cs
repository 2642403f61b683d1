using System.Collections.Concurrent;
using Appliance.Meetings.Pipeline;

namespace Appliance.Meetings.Tests;

/// <summary>What the pipeline handed to the transport, by session.</summary>
internal sealed class RecordedEvents : IMeetingEvents
{
    private readonly ConcurrentQueue<(string Session, object Event)> _events = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<MeetingSummary>> _summaries = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ProgressHold> _holds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<TranscriptSegment>> _firstSegments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<MeetingProgress>> _failures = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Deleted => [.. _events.Where(e => e.Event is string).Select(e => e.Session)];

    public IReadOnlyList<TranscriptSegment> Transcript(string session) => [.. _events.Where(e => e.Session == session).Select(e => e.Event).OfType<TranscriptSegment>()];

    public IReadOnlyList<MeetingProgress> Progress(string session) => [.. _events.Where(e => e.Session == session).Select(e => e.Event).OfType<MeetingProgress>()];

    public Task<MeetingSummary> Summary(string session) => Completion(session).Task;

    /// <summary>Completes with the session's <c>failed</c> progress event, if it ever fails.</summary>
    public Task<MeetingProgress> Failure(string session) => _failures.GetOrAdd(session, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Completes with the session's first transcript segment.</summary>
    public Task<TranscriptSegment> FirstSegment(string session) => _firstSegments.GetOrAdd(session, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public Task TranscriptAsync(string sessionId, TranscriptSegment segment, CancellationToken cancellationToken)
    {
        _firstSegments.GetOrAdd(sessionId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(segment);
        return Record(sessionId, segment);
    }

    public async Task ProgressAsync(string sessionId, MeetingProgress progress, CancellationToken cancellationToken)
    {
        await Record(sessionId, progress);
        if (progress.State == MeetingPhase.Failed)
        {
            _failures.GetOrAdd(sessionId, _ => new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult(progress);
        }
        if (_holds.TryGetValue(sessionId, out var hold) && hold.Matches(progress))
        {
            await hold.WaitAsync();
        }
    }

    /// <summary>The first progress event of the session that matches is held (its sender waits) until released.</summary>
    public ProgressHold HoldProgress(string session, Func<MeetingProgress, bool> match) => _holds.GetOrAdd(session, _ => new ProgressHold(match));

    public Task SummaryAsync(string sessionId, MeetingSummary summary, CancellationToken cancellationToken)
    {
        Completion(sessionId).TrySetResult(summary);
        return Record(sessionId, summary);
    }

    public Task DeletedAsync(string sessionId, CancellationToken cancellationToken) => Record(sessionId, "deleted");

    private TaskCompletionSource<MeetingSummary> Completion(string session) =>
        _summaries.GetOrAdd(session, _ => new TaskCompletionSource<MeetingSummary>(TaskCreationOptions.RunContinuationsAsynchronously));

    private Task Record(string session, object e)
    {
        _events.Enqueue((session, e));
        return Task.CompletedTask;
    }
}

/// <summary>Holds the sender of one progress event: <see cref="Reached"/> completes when it is sent, <see cref="Release"/> lets it go on.</summary>
internal sealed class ProgressHold(Func<MeetingProgress, bool> match)
{
    private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Reached => _reached.Task;

    public bool Matches(MeetingProgress progress) => !_reached.Task.IsCompleted && match(progress);

    public Task WaitAsync()
    {
        _reached.TrySetResult();
        return _released.Task;
    }

    public void Release() => _released.TrySetResult();
}
