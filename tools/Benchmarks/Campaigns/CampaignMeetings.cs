using System.Diagnostics;
using System.Globalization;
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

    /// <summary>Whether <paramref name="fault"/> is one a campaign reports as its failure rather than crash on.</summary>
    public static bool IsFault(Exception fault) =>
        fault is InvalidOperationException or TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException;

    /// <summary>A campaign's failure in words: the exception, and how the daemon ended when it did.</summary>
    public static string Describe(Exception fault, BenchDaemon daemon) =>
        $"{fault.GetType().Name}: {fault.Message}{(daemon.ExitDescription is { } exit ? "; " + exit : "")}";

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

/// <summary>
/// The meetings a campaign streams throughout: named <c>{prefix}-00</c>, <c>{prefix}-01</c>…, started together, then fed
/// in real time by one sender until <see cref="StopAsync"/>. <see cref="Next"/> is each meeting's next sequence number,
/// so also the frames it sent.
/// </summary>
internal sealed class StreamingMeetings(string prefix, int count) : IDisposable
{
    private readonly CancellationTokenSource _streaming = new();
    private Task _sender = Task.CompletedTask;

    public string[] Sessions { get; } = [.. Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i:D2}"))];

    public long[] Next { get; } = new long[count];

    /// <summary>Frames sent, all meetings.</summary>
    public long Sent => Next.Sum();

    /// <summary>Starts every meeting with <paramref name="client"/>, then the sender; the first refusal, or null.</summary>
    /// <param name="client">Starts the meetings.</param>
    /// <param name="publish">Publishes one frame; it must not throw for a frame that does not get through.</param>
    /// <param name="deviceId">The daemon's device id.</param>
    /// <param name="cancellationToken">Cancels the starts.</param>
    public async Task<string?> StartAsync(ApplianceClient client, Func<MqttApplicationMessage, Task> publish, string deviceId, CancellationToken cancellationToken)
    {
        if (await CampaignMeetings.StartAsync(client, Sessions, cancellationToken).ConfigureAwait(false) is { } problem)
        {
            return problem;
        }

        _sender = CampaignMeetings.SendAsync(publish, deviceId, Sessions, Next, _streaming.Token);
        return null;
    }

    /// <summary>Stops the sender and waits for it; <see cref="Next"/> is final after it.</summary>
    public async Task StopAsync()
    {
        await _streaming.CancelAsync().ConfigureAwait(false);
        await _sender.ConfigureAwait(false);
    }

    public void Dispose() => _streaming.Dispose();
}
