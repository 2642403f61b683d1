namespace Appliance.MeetingPlayer;

/// <summary>
/// The order in which frames go on the wire once the simulated radio has lost, reordered and duplicated some:
/// a pure function of the frame count, the rates and the seed.
/// </summary>
internal sealed class FaultPlan
{
    /// <summary>How far ahead a reordered frame may swap (1 to this many frames).</summary>
    public const int MaxReorderDistance = 3;

    private FaultPlan(int[] order, int lost, int duplicated, int reordered)
    {
        Order = order;
        Lost = lost;
        Duplicated = duplicated;
        Reordered = reordered;
    }

    /// <summary>Sequence numbers in sending order; a duplicated frame appears twice, a lost one not at all.</summary>
    public IReadOnlyList<int> Order { get; }

    public int Lost { get; }

    public int Duplicated { get; }

    public int Reordered { get; }

    public static FaultPlan Create(int frames, double lossRate, double duplicateRate, double reorderRate, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(frames);

        // Simulation only: a seeded, reproducible generator is the point.
#pragma warning disable CA5394
        var random = new Random(seed);
        var kept = new List<int>(frames);
        var lost = 0;
        for (var seq = 0; seq < frames; seq++)
        {
            if (lossRate > 0 && random.NextDouble() < lossRate)
            {
                lost++;
            }
            else
            {
                kept.Add(seq);
            }
        }

        var reordered = 0;
        for (var i = 0; i < kept.Count; i++)
        {
            if (reorderRate > 0 && random.NextDouble() < reorderRate)
            {
                var j = i + random.Next(1, MaxReorderDistance + 1);
                if (j < kept.Count)
                {
                    (kept[i], kept[j]) = (kept[j], kept[i]);
                    reordered++;
                }
            }
        }

        var order = new List<int>(kept.Count + (int)(kept.Count * duplicateRate) + 8);
        var duplicated = 0;
        foreach (var seq in kept)
        {
            order.Add(seq);
            if (duplicateRate > 0 && random.NextDouble() < duplicateRate)
            {
                order.Add(seq);
                duplicated++;
            }
        }
#pragma warning restore CA5394

        return new FaultPlan([.. order], lost, duplicated, reordered);
    }
}
