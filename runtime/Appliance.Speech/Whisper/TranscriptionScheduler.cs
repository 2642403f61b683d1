namespace Appliance.Speech.Whisper;

/// <summary>Which transcriptions go first when several wait for the Whisper model.</summary>
public enum TranscriptionPriority
{
    /// <summary>A person is waiting for the text (a voice command, <c>asr.transcribe</c>): served before any batch work.</summary>
    Interactive = 0,

    /// <summary>Background work (a meeting's backlog): served when no interactive transcription waits.</summary>
    Batch = 1,
}

/// <summary>
/// One turn at a time on a Whisper model, shared by every caller: interactive work before batch work, and, within a
/// priority, the caller served longest ago first, so that many meetings take turns instead of one meeting's backlog
/// holding the model. A transcription takes a turn with <see cref="AcquireAsync"/> and gives it back by disposing the
/// lease. Thread-safe.
/// </summary>
/// <remarks>
/// Whisper windows already use every core of the board (the session's intra-op threads), so running two at once only
/// makes both slower; the scheduler decides the order instead.
/// </remarks>
public sealed class TranscriptionScheduler
{
    /// <summary>Turns after which a caller's last turn is forgotten: it then counts as served longest ago, which it was.</summary>
    internal const int RememberedTurns = 256;

    private readonly Lock _gate = new();
    private readonly List<Waiter> _waiting = [];
    private readonly Dictionary<string, long> _lastServed = new(StringComparer.Ordinal);
    private long _arrivals;
    private long _turns;
    private bool _busy;

    /// <summary>Transcriptions waiting for a turn now.</summary>
    public int Waiting
    {
        get
        {
            lock (_gate)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Waits for a turn on the model.</summary>
    /// <param name="caller">Who asks (a meeting's session id, a request id): turns rotate between callers.</param>
    /// <param name="priority">Interactive work goes first.</param>
    /// <param name="cancellationToken">Gives up waiting; a turn already granted is not affected.</param>
    /// <returns>The turn; dispose it when the transcription is done (once).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public async ValueTask<IDisposable> AcquireAsync(string caller, TranscriptionPriority priority, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(caller);
        cancellationToken.ThrowIfCancellationRequested();
        Waiter waiter;
        lock (_gate)
        {
            if (!_busy)
            {
                _busy = true;
                Served(caller);
                return new Turn(this);
            }

            waiter = new Waiter(caller, priority, ++_arrivals);
            _waiting.Add(waiter);
        }

        using (cancellationToken.Register(() => Abandon(waiter, cancellationToken)))
        {
            await waiter.Granted.Task.ConfigureAwait(false);
        }

        return new Turn(this);
    }

    private void Abandon(Waiter waiter, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_waiting.Remove(waiter))
            {
                waiter.Granted.TrySetCanceled(cancellationToken);
            }
        }
    }

    private void Release()
    {
        lock (_gate)
        {
            Waiter? next = null;
            foreach (var waiter in _waiting)
            {
                if (next is null || Before(waiter, next))
                {
                    next = waiter;
                }
            }

            if (next is null)
            {
                _busy = false;
                return;
            }

            _waiting.Remove(next);
            Served(next.Caller);
            next.Granted.TrySetResult();
        }
    }

    /// <summary>Callers whose last turn is remembered now (at most twice <see cref="RememberedTurns"/>).</summary>
    internal int RememberedCallers
    {
        get
        {
            lock (_gate)
            {
                return _lastServed.Count;
            }
        }
    }

    /// <summary>Notes a caller's turn (under the lock). Every caller, a request id for each <c>asr.transcribe</c>, would stay forever; old turns are dropped instead.</summary>
    private void Served(string caller)
    {
        _lastServed[caller] = ++_turns;
        if (_lastServed.Count > 2 * RememberedTurns)
        {
            foreach (var (old, turn) in _lastServed)
            {
                if (turn <= _turns - RememberedTurns)
                {
                    _lastServed.Remove(old);
                }
            }
        }
    }

    private bool Before(Waiter a, Waiter b)
    {
        if (a.Priority != b.Priority)
        {
            return a.Priority < b.Priority;
        }

        var servedA = _lastServed.GetValueOrDefault(a.Caller);
        var servedB = _lastServed.GetValueOrDefault(b.Caller);
        return servedA != servedB ? servedA < servedB : a.Arrival < b.Arrival;
    }

    private sealed record Waiter(string Caller, TranscriptionPriority Priority, long Arrival)
    {
        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class Turn(TranscriptionScheduler scheduler) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                scheduler.Release();
            }
        }
    }
}
