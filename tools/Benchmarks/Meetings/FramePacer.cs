using System.Diagnostics;

namespace Appliance.Benchmarks.Meetings;

/// <summary>Sends many meeting streams' frames in real time, as that many earbuds would.</summary>
internal static class FramePacer
{
    private static readonly TimeSpan FrameTime = TimeSpan.FromMilliseconds(MeetingAudio.FrameMs);
    private static readonly TimeSpan TimerResolution = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Sends frame k of stream i when it is due: at k × 20 ms + i × 20 ms / N on one stopwatch, so the streams are
    /// spread over each 20 ms rather than arriving as one burst, and a late wake-up never shifts later frames.
    /// </summary>
    /// <param name="streams">How many streams (N).</param>
    /// <param name="framesPerStream">Frames each stream sends.</param>
    /// <param name="send">Sends frame (sequence number) of stream (index); called from this loop, awaited per batch.</param>
    /// <param name="cancellationToken">Stops sending.</param>
    /// <returns>The time from the first due time to the last publish, and how late the frames went out against their schedule: the 99th percentile and the latest.</returns>
    public static async Task<(TimeSpan Elapsed, TimeSpan LagP99, TimeSpan LagMax)> SendAsync(int streams, int framesPerStream, Func<int, long, Task> send, CancellationToken cancellationToken)
    {
        var total = (long)framesPerStream * streams;
        var lags = new float[total];
        var batch = new List<Task>(streams);
        var watch = Stopwatch.StartNew();
        long next = 0;
        while (next < total)
        {
            // Frames due within the timer's resolution go now, a little early, rather than spinning until they are due.
            var now = watch.Elapsed;
            while (next < total && Due(next) <= now + TimerResolution)
            {
                lags[next] = (float)Math.Max(0, (now - Due(next)).TotalMilliseconds);
                batch.Add(send((int)(next % streams), next / streams));
                next++;
            }

            await Task.WhenAll(batch).ConfigureAwait(false);
            batch.Clear();
            if (next < total && Due(next) - watch.Elapsed is { } wait && wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }

        var elapsed = watch.Elapsed;
        if (total == 0)
        {
            return (elapsed, TimeSpan.Zero, TimeSpan.Zero);
        }

        Array.Sort(lags);
        return (elapsed, TimeSpan.FromMilliseconds(lags[(int)Math.Min(total - 1, Math.Ceiling(total * 0.99) - 1)]), TimeSpan.FromMilliseconds(lags[^1]));

        TimeSpan Due(long index) => TimeSpan.FromTicks((index / streams * FrameTime.Ticks) + (index % streams * FrameTime.Ticks / streams));
    }
}
