using System.Diagnostics;
using Appliance.Meetings.Pipeline;

namespace Appliance.Meetings.Tests;

/// <summary>The ingest's commit interval: a session's journal is flushed at most once an interval, every frame still accepted.</summary>
public sealed class IngestCommitIntervalTests : IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);
    private readonly TestStore _store = new();

    /// <summary>
    /// Ten frames queued 10 ms apart take about 100 ms; with a 200 ms commit interval they are journaled in at most one
    /// batch per interval that their sending spanned, plus the first (each batch raises one advance per session), and
    /// all of them are accepted. Without the interval each frame would come in its own batch.
    /// </summary>
    [Fact]
    public async Task Frames_arriving_within_an_interval_are_journaled_in_one_batch_and_all_accepted()
    {
        using var manager = _store.Open();
        var ingest = new MeetingIngest(manager, 64, _store.Time, Interval);
        var batches = 0;
        ingest.SessionAdvanced += _ => Interlocked.Increment(ref batches);
        var loop = ingest.RunAsync();
        Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));

        var sending = Stopwatch.StartNew();
        for (var seq = 0; seq < 10; seq++)
        {
            Assert.True(ingest.TryEnqueue("m1", TestStore.Frame(seq)));
            await Task.Delay(TimeSpan.FromMilliseconds(10));
        }

        var sent = sending.Elapsed;
        var outcome = await ingest.StopAsync("m1", lastSequence: 9, TimeSpan.FromSeconds(2), default).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(MeetingResult.Ok, outcome.Result);
        Assert.Equal(10, manager.Get("m1")!.Counters.Accepted);
        // A batch at the first frame, one at each interval the sending reached, and one for the stop.
        var mostBatches = (int)Math.Ceiling(sent / Interval) + 2;
        Assert.InRange(Volatile.Read(ref batches), 1, mostBatches);
        ingest.Complete();
        await loop;
    }

    [Fact]
    public void A_negative_interval_is_refused()
    {
        using var manager = _store.Open();

        Assert.Throws<ArgumentOutOfRangeException>(() => new MeetingIngest(manager, 64, _store.Time, TimeSpan.FromMilliseconds(-1)));
    }

    public void Dispose() => _store.Dispose();
}
