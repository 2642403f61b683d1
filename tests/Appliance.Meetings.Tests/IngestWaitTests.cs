using Appliance.Meetings.Pipeline;

namespace Appliance.Meetings.Tests;

/// <summary>How a stop waits for the frame the client says was its last: on a signal, bounded by the grace period on the store's clock.</summary>
public sealed class IngestWaitTests : IDisposable
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);
    private readonly TestStore _store = new();

    [Fact]
    public async Task A_stop_takes_effect_once_its_last_frame_arrived_behind_every_frame_before_it()
    {
        using var manager = _store.Open();
        var ingest = new MeetingIngest(manager, 64, _store.Time);
        var loop = ingest.RunAsync();
        Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));
        for (var seq = 0; seq < 5; seq++)
        {
            Assert.True(ingest.TryEnqueue("m1", TestStore.Frame(seq)));
        }

        var stop = ingest.StopAsync("m1", lastSequence: 5, Grace, default);
        Assert.False(stop.IsCompleted, "the stop must wait for frame 5");
        Assert.True(ingest.TryEnqueue("m1", TestStore.Frame(5)));
        var outcome = await stop.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(MeetingResult.Ok, outcome.Result);
        Assert.Empty(outcome.Gaps);
        Assert.Equal(6, manager.Get("m1")!.Counters.Accepted);
        ingest.Complete();
        await loop;
    }

    [Fact]
    public async Task A_last_frame_that_never_comes_holds_the_stop_for_the_grace_period_only()
    {
        using var manager = _store.Open();
        var ingest = new MeetingIngest(manager, 64, _store.Time);
        var loop = ingest.RunAsync();
        Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));
        Assert.True(ingest.TryEnqueue("m1", TestStore.Frame(0)));

        var stop = ingest.StopAsync("m1", lastSequence: 3, Grace, default);
        _store.Time.Advance(Grace - TimeSpan.FromMilliseconds(1));
        Assert.False(stop.IsCompleted);
        _store.Time.Advance(TimeSpan.FromMilliseconds(1));
        var outcome = await stop.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(MeetingResult.Ok, outcome.Result);
        Assert.Equal(MeetingState.Stopping, manager.Get("m1")!.State);
        ingest.Complete();
        await loop;
    }

    [Fact]
    public async Task Frames_for_a_session_that_does_not_exist_are_counted_and_a_closed_ingest_refuses_stops()
    {
        using var manager = _store.Open();
        var ingest = new MeetingIngest(manager, 64, _store.Time);
        var loop = ingest.RunAsync();

        Assert.False(ingest.TryEnqueue("nobody", TestStore.Frame(0)));
        Assert.False(ingest.TryEnqueue("../escape", TestStore.Frame(0)));
        Assert.Equal(2, ingest.DroppedFrames);
        ingest.Complete();
        await loop;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => ingest.StopAsync("m1", null, Grace, default));
    }

    public void Dispose() => _store.Dispose();
}
