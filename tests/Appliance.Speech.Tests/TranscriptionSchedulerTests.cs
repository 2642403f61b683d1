using Appliance.Speech.Whisper;

namespace Appliance.Speech.Tests;

/// <summary>The order in which transcriptions get the Whisper model.</summary>
public sealed class TranscriptionSchedulerTests
{
    [Fact]
    public async Task A_voice_command_is_served_before_meeting_backlog_that_waited_longer()
    {
        var scheduler = new TranscriptionScheduler();
        var running = await scheduler.AcquireAsync("meeting-a", TranscriptionPriority.Batch);
        var backlog = scheduler.AcquireAsync("meeting-b", TranscriptionPriority.Batch).AsTask();
        var command = scheduler.AcquireAsync("voice-1", TranscriptionPriority.Interactive).AsTask();
        Assert.Equal(2, scheduler.Waiting);

        running.Dispose();
        using (await command.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.False(backlog.IsCompleted);
        }

        (await backlog.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        Assert.Equal(0, scheduler.Waiting);
    }

    [Fact]
    public async Task Meetings_take_turns_the_one_served_longest_ago_first()
    {
        var scheduler = new TranscriptionScheduler();
        var order = new List<string>();
        async Task TakeTurnAsync(string caller)
        {
            using (await scheduler.AcquireAsync(caller, TranscriptionPriority.Batch))
            {
                lock (order)
                {
                    order.Add(caller);
                }
            }
        }

        (await scheduler.AcquireAsync("a", TranscriptionPriority.Batch)).Dispose();
        var holding = await scheduler.AcquireAsync("b", TranscriptionPriority.Batch);
        Task[] waiting = [TakeTurnAsync("a"), TakeTurnAsync("b"), TakeTurnAsync("c")];
        Assert.Equal(3, scheduler.Waiting);
        holding.Dispose();
        await Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(5));

        // c was never served, a longer ago than b: arrival order (a, b, c) does not decide.
        Assert.Equal(["c", "a", "b"], order);
    }

    [Fact]
    public async Task A_waiter_that_gives_up_is_passed_over()
    {
        var scheduler = new TranscriptionScheduler();
        var holding = await scheduler.AcquireAsync("a", TranscriptionPriority.Batch);
        using var cancel = new CancellationTokenSource();
        var gaveUp = scheduler.AcquireAsync("b", TranscriptionPriority.Interactive, cancel.Token).AsTask();
        var patient = scheduler.AcquireAsync("c", TranscriptionPriority.Batch).AsTask();

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gaveUp);
        holding.Dispose();
        (await patient.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
        (await scheduler.AcquireAsync("d", TranscriptionPriority.Batch).AsTask().WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }

    [Fact]
    public async Task One_off_callers_are_forgotten_and_a_recent_caller_keeps_its_place()
    {
        var scheduler = new TranscriptionScheduler();
        for (var i = 0; i < 10 * TranscriptionScheduler.RememberedTurns; i++)
        {
            (await scheduler.AcquireAsync($"request-{i}", TranscriptionPriority.Interactive)).Dispose();
        }

        Assert.InRange(scheduler.RememberedCallers, 1, 2 * TranscriptionScheduler.RememberedTurns);

        // The last request was served a moment ago, so a caller never (or long ago) served goes before it.
        var holding = await scheduler.AcquireAsync("meeting", TranscriptionPriority.Batch);
        var recent = scheduler.AcquireAsync($"request-{(10 * TranscriptionScheduler.RememberedTurns) - 1}", TranscriptionPriority.Batch).AsTask();
        var forgotten = scheduler.AcquireAsync("request-0", TranscriptionPriority.Batch).AsTask();
        holding.Dispose();
        using (await forgotten.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.False(recent.IsCompleted);
        }

        (await recent.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }
}
