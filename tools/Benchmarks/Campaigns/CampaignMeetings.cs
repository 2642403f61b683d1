using System.Diagnostics;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;
using MQTTnet;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>
/// The meetings a fault campaign streams throughout: 16 kHz PCM in 20 ms frames, in real time, and the accounting
/// afterwards (every frame sent must be accepted or reported missing, every meeting must complete).
/// </summary>
internal static class CampaignMeetings
{
    private const int FrameBytes = 640; // 20 ms of 16 kHz s16le
    private static readonly TimeSpan FrameTime = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan CompletionTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AnswerLimit = TimeSpan.FromSeconds(60);

    /// <summary>Starts every meeting; the first refusal, or null.</summary>
    public static async Task<string?> StartAsync(ApplianceClient client, string[] sessions, CancellationToken cancellationToken)
    {
        foreach (var session in sessions)
        {
            var start = await client.ControlMeetingAsync(session, new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 }, cancellationToken: cancellationToken).ConfigureAwait(false);
            if (start.Error is { } error)
            {
                return $"{session} did not start: {error.Code}: {error.Message}";
            }
        }

        return null;
    }

    /// <summary>
    /// Publishes the next frame of every meeting each 20 ms until cancelled. A frame is counted as sent (its sequence
    /// number used) whether or not it gets through: the daemon or the broker may be down meanwhile, as a fault makes them.
    /// </summary>
    /// <param name="publish">Publishes one frame; it must not throw for a frame that does not get through.</param>
    /// <param name="deviceId">The daemon's device id.</param>
    /// <param name="sessions">The meetings.</param>
    /// <param name="next">Each meeting's next sequence number, advanced here: after cancellation, the frames each sent.</param>
    /// <param name="cancellationToken">Stops sending.</param>
    public static async Task SendAsync(Func<MqttApplicationMessage, Task> publish, string deviceId, string[] sessions, long[] next, CancellationToken cancellationToken)
    {
        var payload = new byte[FrameBytes];
        var watch = Stopwatch.StartNew();
        for (long tick = 0; !cancellationToken.IsCancellationRequested; tick++)
        {
            for (var i = 0; i < sessions.Length; i++)
            {
                await publish(MeetingAudioFrame.Create(deviceId, sessions[i], next[i], AudioCodecs.PcmS16LE, payload)).ConfigureAwait(false);
                next[i]++;
            }

            if ((FrameTime * (tick + 1)) - watch.Elapsed is { } wait && wait > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Each meeting's accepted count (<c>meetings.get</c>).</summary>
    /// <exception cref="InvalidOperationException">A meeting could not be read.</exception>
    public static async Task<long[]> AcceptedAsync(ApplianceClient client, string[] sessions, CancellationToken cancellationToken)
    {
        var accepted = new long[sessions.Length];
        for (var i = 0; i < sessions.Length; i++)
        {
            var (record, problem) = await MeetingRecord.GetAsync(client, sessions[i], cancellationToken).ConfigureAwait(false);
            accepted[i] = record?.Accepted ?? throw new InvalidOperationException(problem);
        }

        return accepted;
    }

    /// <summary>Waits until the daemon answers <c>health.get</c> again: it has (re)connected and subscribed.</summary>
    /// <param name="client">The campaign's connected client (connecting it again first, when it lost the broker too).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <exception cref="TimeoutException">Not within 60 s.</exception>
    public static async Task AnsweringAsync(Func<CancellationToken, Task<ApplianceClient>> client, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var connected = await client(cancellationToken).ConfigureAwait(false);
                if ((await connected.CallAsync(RpcMethods.HealthGet, new EmptyParams(), new RpcCallOptions { Timeout = TimeSpan.FromMilliseconds(250) }, cancellationToken).ConfigureAwait(false)).Result is not null)
                {
                    return;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false); // answered, with an error
            }
            catch (TimeoutException) when (watch.Elapsed < AnswerLimit)
            {
                // Not back yet: the daemon waits out its reconnect back-off.
            }

            if (watch.Elapsed >= AnswerLimit)
            {
                throw new TimeoutException($"the daemon did not answer health.get within {AnswerLimit.TotalSeconds:0} s");
            }
        }
    }

    /// <summary>A random time between <paramref name="min"/> and <paramref name="max"/>: when the next fault comes, or how long it lasts.</summary>
    public static TimeSpan Between(Random random, TimeSpan min, TimeSpan max) => min + ((max - min) * random.NextDouble());

    /// <summary>Frames the meetings had accepted before a fault and no longer have after it (each meeting's shortfall, summed).</summary>
    public static long Lost(long[] before, long[] after) => before.Zip(after, (b, a) => Math.Max(0, b - a)).Sum();

    /// <summary>Stops every meeting after its last frame, waits for each to complete, and sums what the daemon accepted and reports missing.</summary>
    public static async Task<(long Accepted, long Gaps, int Completed, string? Problem)> FinishAsync(ApplianceClient client, string[] sessions, long[] next, CancellationToken cancellationToken)
    {
        var streamer = new MeetingStreamer(client);
        long accepted = 0, gaps = 0;
        var completed = 0;
        string? problem = null;
        for (var i = 0; i < sessions.Length; i++)
        {
            var stop = await streamer.StopAsync(sessions[i], next[i] - 1, TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            if (stop.Error is { } error)
            {
                problem ??= $"{sessions[i]} stop: {error.Code}: {error.Message}";
            }
        }

        var watch = Stopwatch.StartNew();
        for (var i = 0; i < sessions.Length; i++)
        {
            while (true)
            {
                var (record, why) = await MeetingRecord.GetAsync(client, sessions[i], cancellationToken).ConfigureAwait(false);
                if (record is { State: "completed" })
                {
                    accepted += record.Accepted;
                    gaps += record.GapFrames;
                    completed++;
                    break;
                }

                if (watch.Elapsed > CompletionTimeout)
                {
                    problem ??= $"{sessions[i]} did not complete within {CompletionTimeout.TotalSeconds:0} s: {(record is null ? why : record.State)}";
                    break;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            }
        }

        return (accepted, gaps, completed, problem);
    }
}
