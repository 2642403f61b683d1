using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace Appliance.Meetings.Pipeline;

/// <summary>
/// The way from the MQTT receive path to the session journals. <see cref="TryEnqueue"/> only queues a frame (a copy) and
/// never waits; <see cref="RunAsync"/>, one loop, journals whatever has queued, all sessions side by side with one flush
/// per session per batch (group commit), and a frame counts as accepted after its flush. Batches start at most once a
/// commit interval (unless a full batch left more queued), so a session's journal is flushed at most that often however
/// many frames arrive. A stop goes through the same queue, so it takes effect behind every frame received before it.
/// After each batch <see cref="SessionAdvanced"/> names the sessions whose journal grew or that stopped.
/// </summary>
/// <remarks>
/// Thread-safe: any number of producers, one <see cref="RunAsync"/>. The owner calls <see cref="Complete"/> at shutdown and
/// awaits <see cref="RunAsync"/>, which journals what was queued before it returns; the store must outlive it.
/// </remarks>
public sealed class MeetingIngest
{
    private const int MaxBatch = 4096;

    private readonly MeetingSessionManager _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _commitInterval;
    private readonly Channel<Item> _queue;
    private readonly ConcurrentDictionary<string, SequenceWatch> _received = new(StringComparer.Ordinal);
    private long _droppedFrames;
    private long _acceptedFrames;
    private long _lostFrames;

    /// <summary>Creates the queue.</summary>
    /// <param name="store">The sessions the frames go to; outlives the queue's loop.</param>
    /// <param name="capacity">Frames received but not yet journaled; beyond it frames are dropped and counted (the board is overloaded).</param>
    /// <param name="time">The clock of the stop's wait for its last frame.</param>
    /// <param name="commitInterval">
    /// The least time from the start of one batch to the start of the next, measured in real time whatever
    /// <paramref name="time"/> is: each flush (<c>fsync</c>) then covers up to that much of every stream's audio. Zero
    /// starts a batch as soon as a frame is queued. A frame waits in the queue up to this long before it is journaled and
    /// counts as accepted.
    /// </param>
    public MeetingIngest(MeetingSessionManager store, int capacity, TimeProvider time, TimeSpan commitInterval = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(commitInterval, TimeSpan.Zero);
        _store = store;
        _time = time;
        _commitInterval = commitInterval;
        _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
    }

    /// <summary>Raised on the loop, after each batch, once for each session whose journal grew or that stopped.</summary>
    public event Action<string>? SessionAdvanced;

    /// <summary>Frames dropped before any session saw them: unknown session, no sequence number, or the queue full.</summary>
    public long DroppedFrames => Interlocked.Read(ref _droppedFrames);

    /// <summary>Frames journaled since the start, all sessions.</summary>
    public long AcceptedFrames => Interlocked.Read(ref _acceptedFrames);

    /// <summary>Frames that never arrived, counted when each meeting stops: the sum of its gaps.</summary>
    public long LostFrames => Interlocked.Read(ref _lostFrames);

    /// <summary>Queues one received frame for its session; never waits.</summary>
    /// <param name="sessionId">The session of the audio topic.</param>
    /// <param name="frame">The frame; its payload is copied, so the caller may reuse the buffer at once.</param>
    /// <returns>False when the frame was dropped (and counted): unknown session, or the queue full.</returns>
    public bool TryEnqueue(string sessionId, AudioFrame frame)
    {
        if (!_store.Contains(sessionId))
        {
            CountDropped();
            return false;
        }

        if (_queue.Writer.TryWrite(new Item(sessionId, frame with { Payload = frame.Payload.ToArray() }, null)))
        {
            // Only once the frame is queued: a stop waiting for it must land behind it.
            _received.GetOrAdd(sessionId, static _ => new SequenceWatch()).Saw(frame.Sequence);
            return true;
        }

        CountDropped();
        return false;
    }

    /// <summary>Counts a frame dropped at the edge (it named no sequence number, or no valid session).</summary>
    public void CountDropped() => Interlocked.Increment(ref _droppedFrames);

    /// <summary>
    /// Stops a session once the frames received before the stop are journaled. When <paramref name="lastSequence"/> is
    /// given, waits first (at most <paramref name="grace"/>) for that frame to be received: audio (QoS 0) and the stop
    /// (QoS 1) may overtake each other.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="lastSequence">The client's last frame, or null.</param>
    /// <param name="grace">How long to wait for <paramref name="lastSequence"/>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The store's outcome, with every gap of the session, the frames up to <paramref name="lastSequence"/> that never arrived included.</returns>
    /// <exception cref="OperationCanceledException">Cancelled, or the queue is closed (shutting down).</exception>
    public async Task<StopOutcome> StopAsync(string sessionId, long? lastSequence, TimeSpan grace, CancellationToken cancellationToken)
    {
        if (lastSequence is { } last && _store.Contains(sessionId))
        {
            var watch = _received.GetOrAdd(sessionId, static _ => new SequenceWatch());
            await watch.WaitForAsync(last, grace, _time, cancellationToken).ConfigureAwait(false);
        }

        var stop = new Item(sessionId, null, new TaskCompletionSource<StopOutcome>(TaskCreationOptions.RunContinuationsAsynchronously), lastSequence);
        try
        {
            await _queue.Writer.WriteAsync(stop, cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new OperationCanceledException("the meeting ingest is shutting down");
        }

        return await stop.Stopped!.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets what was received for a deleted session.</summary>
    /// <param name="sessionId">The session.</param>
    public void Forget(string sessionId) => _received.TryRemove(sessionId, out _);

    /// <summary>Takes no more frames or stops; <see cref="RunAsync"/> returns once the queue is drained.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    /// <summary>
    /// The loop: takes everything queued (up to a batch), offers the frames to the sessions with one flush per session,
    /// applies queued stops in their place in the stream, and raises <see cref="SessionAdvanced"/>. Returns after
    /// <see cref="Complete"/> once the queue is drained. Run it once.
    /// </summary>
    /// <returns>A task that ends when the queue is complete and drained.</returns>
    public async Task RunAsync()
    {
        var batch = new List<IncomingFrame>(MaxBatch);
        var results = new FrameResult[MaxBatch];
        var touched = new HashSet<string>(StringComparer.Ordinal);
        while (await _queue.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            var batchStarted = Stopwatch.GetTimestamp();
            while (batch.Count < MaxBatch && _queue.Reader.TryRead(out var item))
            {
                if (item.Frame is { } frame)
                {
                    batch.Add(new IncomingFrame(item.SessionId, frame));
                    continue;
                }

                Accept(batch, results, touched);
                var stopped = _store.Stop(item.SessionId, item.LastSequence);
                if (stopped.Result == MeetingResult.Ok)
                {
                    Interlocked.Add(ref _lostFrames, stopped.Gaps.Sum(g => g.Count));
                }

                item.Stopped!.TrySetResult(stopped);
                touched.Add(item.SessionId);
            }

            var backlog = batch.Count == MaxBatch; // cut short: more is queued already, so the next batch starts at once
            Accept(batch, results, touched);
            foreach (var sessionId in touched)
            {
                SessionAdvanced?.Invoke(sessionId);
            }

            touched.Clear();
            if (!backlog && _commitInterval - Stopwatch.GetElapsedTime(batchStarted) is { } rest && rest > TimeSpan.Zero && !_queue.Reader.Completion.IsCompleted)
            {
                await Task.Delay(rest).ConfigureAwait(false);
            }
        }
    }

    private void Accept(List<IncomingFrame> batch, FrameResult[] results, HashSet<string> touched)
    {
        if (batch.Count == 0)
        {
            return;
        }

        _store.AcceptFrames(batch, results);
        var accepted = 0;
        for (var i = 0; i < batch.Count; i++)
        {
            if (results[i] == FrameResult.UnknownSession)
            {
                CountDropped();
            }
            else if (results[i] == FrameResult.Accepted)
            {
                accepted++;
                touched.Add(batch[i].SessionId);
            }
        }

        Interlocked.Add(ref _acceptedFrames, accepted);

        batch.Clear();
    }

    /// <summary>A received frame, or (with <see cref="Stopped"/>) a stop, in the order they came.</summary>
    private sealed record Item(string SessionId, AudioFrame? Frame, TaskCompletionSource<StopOutcome>? Stopped, long? LastSequence = null);

    /// <summary>The highest sequence number received for one session, and the stops waiting for one.</summary>
    private sealed class SequenceWatch
    {
        private readonly Lock _gate = new();
        private readonly List<(long Target, TaskCompletionSource Arrived)> _waiters = [];
        private long _highest = -1;

        public void Saw(long sequence)
        {
            lock (_gate)
            {
                if (sequence <= _highest)
                {
                    return;
                }

                _highest = sequence;
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Target <= sequence)
                    {
                        _waiters[i].Arrived.TrySetResult();
                        _waiters.RemoveAt(i);
                    }
                }
            }
        }

        /// <summary>Waits until <paramref name="target"/> was seen or <paramref name="grace"/> passed; the waiter is gone after either.</summary>
        public async Task WaitForAsync(long target, TimeSpan grace, TimeProvider time, CancellationToken cancellationToken)
        {
            var waiter = (Target: target, Arrived: new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            lock (_gate)
            {
                if (target <= _highest)
                {
                    return;
                }

                _waiters.Add(waiter);
            }

            try
            {
                await waiter.Arrived.Task.WaitAsync(grace, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The frame never came: the stop goes on, and the missing frames are gaps.
            }
            finally
            {
                lock (_gate)
                {
                    _waiters.Remove(waiter);
                }
            }
        }
    }
}
