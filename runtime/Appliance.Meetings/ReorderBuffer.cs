namespace Appliance.Meetings;

/// <summary>How a sequence number relates to what a session has seen.</summary>
internal enum SequenceStatus
{
    New,
    Duplicate,
    Late,
}

/// <summary>
/// Tracks which accepted sequence numbers are held back until every earlier number is accepted or skipped. A number
/// more than the window ahead of the next due one forces the missing ones out as a gap. Only numbers are held (the
/// audio is in the journal). Not thread-safe: the owning session serialises calls. Its state follows from the
/// accepted numbers in acceptance order alone, so replaying the journal rebuilds it exactly.
/// </summary>
internal sealed class ReorderBuffer(int window)
{
    private readonly SortedSet<long> _pending = [];
    private readonly List<SequenceGap> _gaps = [];

    /// <summary>The next sequence number due; everything below it has been released or skipped.</summary>
    public long NextSequence { get; private set; }

    public IReadOnlyList<SequenceGap> Gaps => _gaps;

    /// <summary>The highest sequence number accepted (released or held), or -1 before any.</summary>
    public long Highest => _pending.Count > 0 ? _pending.Max : NextSequence - 1;

    /// <summary>An independent copy: what a stop changes on it leaves this one as it was.</summary>
    public ReorderBuffer Copy()
    {
        var copy = new ReorderBuffer(window) { NextSequence = NextSequence };
        copy._pending.UnionWith(_pending);
        copy._gaps.AddRange(_gaps);
        return copy;
    }

    public SequenceStatus Classify(long sequence)
    {
        if (sequence >= NextSequence)
        {
            return _pending.Contains(sequence) ? SequenceStatus.Duplicate : SequenceStatus.New;
        }

        return InGap(sequence) ? SequenceStatus.Late : SequenceStatus.Duplicate;
    }

    /// <summary>
    /// Adds a number classified <see cref="SequenceStatus.New"/> and releases what became due. A number below
    /// <see cref="NextSequence"/> was not new and is passed over (held below the next due number, it would corrupt
    /// the gaps).
    /// </summary>
    public void Add(long sequence)
    {
        if (sequence < NextSequence)
        {
            return;
        }

        _pending.Add(sequence);
        if (sequence - NextSequence >= window)
        {
            AdvanceTo(sequence - window + 1);
        }

        while (_pending.Remove(NextSequence))
        {
            NextSequence++;
        }
    }

    /// <summary>
    /// Releases everything held, skipping the missing numbers before each held one as gaps, and those after them up to
    /// <paramref name="through"/> (the sender's last number, when known).
    /// </summary>
    public void Flush(long? through = null)
    {
        AdvanceTo(Math.Max(_pending.Count > 0 ? _pending.Max + 1 : NextSequence, through is { } last && last < long.MaxValue ? last + 1 : NextSequence));
    }

    private void AdvanceTo(long target)
    {
        while (NextSequence < target)
        {
            if (_pending.Remove(NextSequence))
            {
                NextSequence++;
                continue;
            }

            var end = Math.Min(target, _pending.Count > 0 ? _pending.Min : long.MaxValue);
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
