namespace Appliance.Meetings;

/// <summary>How a sequence number relates to what a session has seen.</summary>
internal enum SequenceStatus
{
    New,
    Duplicate,
    Late,
}

/// <summary>
/// Holds accepted frames until every earlier sequence number is accepted or skipped, then releases them in order.
/// A frame more than the window ahead of the next due number forces the missing ones out as a gap. Not
/// thread-safe: the owning session serialises calls. Its state follows from the accepted frames in acceptance
/// order alone, so replaying the journal rebuilds it exactly.
/// </summary>
internal sealed class ReorderBuffer(int window)
{
    private readonly SortedDictionary<long, AudioFrame> _pending = [];
    private readonly List<SequenceGap> _gaps = [];

    /// <summary>The next sequence number due; everything below it has been released or skipped.</summary>
    public long NextSequence { get; private set; }

    public IReadOnlyList<SequenceGap> Gaps => _gaps;

    public SequenceStatus Classify(long sequence)
    {
        if (sequence >= NextSequence)
        {
            return _pending.ContainsKey(sequence) ? SequenceStatus.Duplicate : SequenceStatus.New;
        }

        return InGap(sequence) ? SequenceStatus.Late : SequenceStatus.Duplicate;
    }

    /// <summary>
    /// Adds a frame classified <see cref="SequenceStatus.New"/>; frames that become due are appended to
    /// <paramref name="released"/> and the numbers skipped on the way to <paramref name="skipped"/>.
    /// </summary>
    public void Add(AudioFrame frame, List<AudioFrame> released, List<SequenceGap> skipped)
    {
        _pending.Add(frame.Sequence, frame);
        if (frame.Sequence - NextSequence >= window)
        {
            AdvanceTo(frame.Sequence - window + 1, released, skipped);
        }

        while (_pending.Remove(NextSequence, out var due))
        {
            released.Add(due);
            NextSequence++;
        }
    }

    /// <summary>Releases everything held, skipping the missing numbers before each held frame as gaps.</summary>
    public void Flush(List<AudioFrame> released, List<SequenceGap> skipped)
    {
        if (_pending.Count > 0)
        {
            AdvanceTo(_pending.Keys.Max() + 1, released, skipped);
        }
    }

    private void AdvanceTo(long target, List<AudioFrame> released, List<SequenceGap> skipped)
    {
        while (NextSequence < target)
        {
            if (_pending.Remove(NextSequence, out var due))
            {
                released.Add(due);
                NextSequence++;
                continue;
            }

            var nextHeld = _pending.Count > 0 ? _pending.Keys.First() : long.MaxValue;
            var end = Math.Min(target, nextHeld);
            skipped.Add(new SequenceGap(NextSequence, end - NextSequence));
            RecordGap(NextSequence, end - NextSequence);
            NextSequence = end;
        }
    }

    private void RecordGap(long from, long count)
    {
        if (_gaps.Count > 0 && _gaps[^1].FromSequence + _gaps[^1].Count == from)
        {
            _gaps[^1] = _gaps[^1] with { Count = _gaps[^1].Count + count };
            return;
        }

        _gaps.Add(new SequenceGap(from, count));
    }

    private bool InGap(long sequence)
    {
        int low = 0, high = _gaps.Count - 1;
        while (low <= high)
        {
            var middle = (low + high) / 2;
            var gap = _gaps[middle];
            if (sequence < gap.FromSequence)
            {
                high = middle - 1;
            }
            else if (sequence >= gap.FromSequence + gap.Count)
            {
                low = middle + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }
}
