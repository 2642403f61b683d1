using System.Threading.Channels;

namespace Appliance.Llm;

internal enum PendingState
{
    Queued,
    Running,
    Done,
}

/// <summary>
/// A request between submission and its final event. Its events go through a one-slot channel, so the generating
/// thread never runs more than one event ahead of the reader (cancellation then shows within one token). The
/// cancellation source is disposed when both the reader and the generation have let go.
/// </summary>
internal sealed class PendingRequest : IDisposable
{
    private readonly Channel<LlmEvent> _events = Channel.CreateBounded<LlmEvent>(new BoundedChannelOptions(1)
    {
        SingleReader = true,
        SingleWriter = true,
        FullMode = BoundedChannelFullMode.Wait,
    });

    private readonly CancellationTokenSource _cancellation;
    private int _owners = 2;

    public PendingRequest(LlmRequest request, long sequence, long enqueuedAt, CancellationToken callerToken)
    {
        Request = request;
        Sequence = sequence;
        EnqueuedAt = enqueuedAt;
        _cancellation = CancellationTokenSource.CreateLinkedTokenSource(callerToken);
        Cancellation = _cancellation.Token;
    }

    public LlmRequest Request { get; }

    public long Sequence { get; }

    public long EnqueuedAt { get; }

    public CancellationToken Cancellation { get; }

    /// <summary>Guarded by the service's lock.</summary>
    public PendingState State { get; set; }

    public ChannelReader<LlmEvent> Events => _events.Reader;

    public void Cancel() => _cancellation.Cancel();

    /// <summary>
    /// Writes an event, blocking the generating thread while the reader has not taken the previous one.
    /// False when <paramref name="cancellation"/> fires meanwhile or the reader has gone.
    /// </summary>
    public bool Emit(LlmEvent e, CancellationToken cancellation)
    {
        try
        {
            while (!_events.Writer.TryWrite(e))
            {
                if (!_events.Writer.WaitToWriteAsync(cancellation).AsTask().GetAwaiter().GetResult())
                {
                    return false;
                }
            }

            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Writes the last event (waiting for the reader, unless it has gone) and closes the stream.</summary>
    public void EmitFinal(LlmEvent e)
    {
        Emit(e, CancellationToken.None);
        _events.Writer.TryComplete();
    }

    /// <summary>The reader has gone: a generation still running is cancelled and its writes return at once.</summary>
    public void Abandon()
    {
        _events.Writer.TryComplete();
        Cancel();
    }

    /// <summary>Called once by the reader and once by the generation (or the queue when it never ran).</summary>
    public void Dispose()
    {
        if (Interlocked.Decrement(ref _owners) == 0)
        {
            _cancellation.Dispose();
        }
    }
}
