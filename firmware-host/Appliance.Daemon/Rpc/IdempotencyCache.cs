using Appliance.Contracts;

namespace Appliance.Daemon.Rpc;

/// <summary>
/// Remembers requests by idempotency key so that a QoS 1 redelivery is not acted on twice: a key seen
/// while its first run is in flight is ignored (the first run answers), and a finished key gets the first
/// run's final reply again. Entries expire a window after their first sighting; the oldest go first when full. Thread-safe.
/// </summary>
internal sealed class IdempotencyCache(TimeSpan window, int capacity, TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _order = new();

    public enum Admission
    {
        /// <summary>First sighting: run it.</summary>
        Run,

        /// <summary>The first run is still going; drop this copy.</summary>
        InFlight,

        /// <summary>Already answered; send <see cref="Entry.FinalReply"/> again.</summary>
        Answered,
    }

    public Admission Admit(string key, out RpcReply? finalReply)
    {
        lock (_gate)
        {
            Evict();
            if (_entries.TryGetValue(key, out var entry))
            {
                finalReply = entry.FinalReply;
                return entry.FinalReply is null ? Admission.InFlight : Admission.Answered;
            }

            if (_entries.Count >= capacity)
            {
                _entries.Remove(_order.First!.Value);
                _order.RemoveFirst();
            }

            _entries[key] = new Entry(time.GetUtcNow(), null, _order.AddLast(key));
            finalReply = null;
            return Admission.Run;
        }
    }

    public void Complete(string key, RpcReply finalReply)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(key, out var entry))
            {
                _entries[key] = entry with { FinalReply = finalReply };
            }
        }
    }

    private void Evict()
    {
        var cutoff = time.GetUtcNow() - window;
        while (_order.First is { } oldest && _entries[oldest.Value].At < cutoff && _entries[oldest.Value].FinalReply is not null)
        {
            _entries.Remove(oldest.Value);
            _order.RemoveFirst();
        }
    }

    public sealed record Entry(DateTimeOffset At, RpcReply? FinalReply, LinkedListNode<string> Node);
}
