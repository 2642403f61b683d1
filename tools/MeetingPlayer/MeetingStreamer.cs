using System.Globalization;
using Appliance.Audio;
using Appliance.Contracts;

namespace Appliance.MeetingPlayer;

/// <summary>
/// Plays a recording into the daemon as earbuds would: meeting commands (start, stop, abort) on the meeting's control
/// topic, answered like RPC requests, and audio frames with sequence numbers, paced in (scaled) real time, with seeded
/// simulated loss, duplication and reordering. Used by the <c>meeting-player</c> tool and, in process, by the daemon's
/// tests and benchmarks. The client is borrowed, not owned; control calls may run concurrently; one stream per session
/// at a time.
/// </summary>
public sealed class MeetingStreamer
{
    private readonly ApplianceClient _client;
    private readonly TimeProvider _time;

    /// <summary>Creates a streamer that speaks through <paramref name="client"/>.</summary>
    /// <param name="client">A connected client; it stays the caller's to dispose.</param>
    /// <param name="timeProvider">Clock of the pacing; the system clock when null.</param>
    public MeetingStreamer(ApplianceClient client, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        _client = client;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The device whose daemon receives the meeting.</summary>
    public string DeviceId => _client.DeviceId;

    /// <summary>A new default session id, <c>meeting-yyyyMMdd-HHmmss</c> in local time.</summary>
    public static string NewSessionId(TimeProvider? timeProvider = null) =>
        "meeting-" + (timeProvider ?? TimeProvider.System).GetLocalNow().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);

    /// <summary>
    /// Subscribes to the meeting's transcript, progress and summary topics; they are live at the broker when this
    /// returns, so call it before <see cref="StartAsync"/>. A retained summary of an earlier run of the same session
    /// id is replayed at once (its <c>Retain</c> flag is set).
    /// </summary>
    /// <exception cref="ApplianceClientException">The broker refused a subscription.</exception>
    public Task<MeetingSubscription> SubscribeAsync(string sessionId, CancellationToken cancellationToken = default) =>
        MeetingSubscription.StartAsync(_client, sessionId, cancellationToken);

    /// <summary>Sends start with the codec, rate, language and participants of <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The options are not usable (see <see cref="MeetingStreamOptions.Validate"/>).</exception>
    /// <exception cref="TimeoutException">No final reply within <see cref="MeetingStreamOptions.ControlTimeout"/>.</exception>
    public Task<RpcResult<MeetingControlResult>> StartAsync(string sessionId, MeetingStreamOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfInvalid(options);
        var start = new MeetingControl
        {
            Action = "start",
            Codec = options.Codec.Name(),
            SampleRate = options.EffectiveSampleRate,
            Channels = 1,
            Language = options.Language,
            Participants = options.Participants,
        };
        return ControlAsync(sessionId, start, options.ControlTimeout, cancellationToken);
    }

    /// <summary>
    /// Sends stop; <paramref name="lastSequence"/> is the last sequence number cut, sent or not. A stop must land, so
    /// one answered <c>busy</c> (the device's request queue is full, as when a whole room stops at once) is sent again
    /// after the reply's <c>retryAfterSeconds</c>, within <paramref name="timeout"/>; a repeated stop does no harm.
    /// </summary>
    /// <exception cref="TimeoutException">No final reply in time (10 s when <paramref name="timeout"/> is null).</exception>
    public Task<RpcResult<MeetingControlResult>> StopAsync(string sessionId, long lastSequence, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ControlAsync(sessionId, new MeetingControl { Action = "stop", LastSequence = lastSequence }, timeout ?? TimeSpan.FromSeconds(10), cancellationToken, retryBusy: true);

    /// <summary>Sends abort: the daemon drops the meeting. Like a stop, an abort answered <c>busy</c> is sent again within <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">No final reply in time (10 s when <paramref name="timeout"/> is null).</exception>
    public Task<RpcResult<MeetingControlResult>> AbortAsync(string sessionId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ControlAsync(sessionId, new MeetingControl { Action = "abort" }, timeout ?? TimeSpan.FromSeconds(10), cancellationToken, retryBusy: true);

    /// <summary>
    /// Start, all frames, stop. When start is refused nothing is sent and the result holds the error; cancellation
    /// after a successful start sends abort (best effort) before the <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <param name="sessionId">The meeting's session id (one topic level: no '/', '+' or '#').</param>
    /// <param name="mono16k">The recording, 16 kHz mono, samples in [-1, 1]; resampled when the wire rate differs.</param>
    /// <param name="options">Codec, framing, pacing, faults and start fields.</param>
    /// <param name="progress">Told the counts so far every 25 frames and at the end, on the sending thread.</param>
    /// <param name="cancellationToken">Stops the stream (and sends abort).</param>
    /// <exception cref="ArgumentException">The options are not usable.</exception>
    /// <exception cref="TimeoutException">A control message got no reply in time.</exception>
    public async Task<MeetingStreamResult> StreamAsync(string sessionId, ReadOnlyMemory<float> mono16k, MeetingStreamOptions options, IProgress<MeetingStreamCounts>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var startReply = await StartAsync(sessionId, options, cancellationToken).ConfigureAwait(false);
        if (!startReply.Succeeded)
        {
            return new MeetingStreamResult(startReply, null, null);
        }

        MeetingStreamCounts counts;
        try
        {
            counts = await SendAudioAsync(sessionId, mono16k, options, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await TryAbortAsync(sessionId, options.ControlTimeout).ConfigureAwait(false);
            throw;
        }

        var stopReply = await StopAsync(sessionId, counts.LastSequence, options.ControlTimeout, cancellationToken).ConfigureAwait(false);
        return new MeetingStreamResult(startReply, counts, stopReply);
    }

    /// <summary>
    /// Cuts <paramref name="mono16k"/> into frames (the last padded with silence), encodes them in sequence order,
    /// and publishes them in the order the fault plan gives, each one when its audio would have been captured
    /// divided by <see cref="MeetingStreamOptions.Speed"/>. Does not send start or stop.
    /// </summary>
    /// <exception cref="ArgumentException">The options are not usable.</exception>
    /// <exception cref="ApplianceClientException">The broker refused a frame.</exception>
    public async Task<MeetingStreamCounts> SendAudioAsync(string sessionId, ReadOnlyMemory<float> mono16k, MeetingStreamOptions options, IProgress<MeetingStreamCounts>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ThrowIfInvalid(options);

        var rate = options.EffectiveSampleRate;
        var samples = rate == SpeechAudio.SampleRate ? mono16k : Resampler.ResampleAll(mono16k.Span, SpeechAudio.SampleRate, rate);
        using var encoder = new FrameEncoder(options.Codec, rate, options.FrameMs);
        var frameCount = checked((int)((samples.Length + (long)encoder.SamplesPerFrame - 1) / encoder.SamplesPerFrame));
        var plan = FaultPlan.Create(frameCount, options.LossRate, options.DuplicateRate, options.ReorderRate, options.Seed);

        var uses = new byte[frameCount];
        foreach (var seq in plan.Order)
        {
            uses[seq]++;
        }

        var codecName = options.Codec.Name();
        var frameTime = TimeSpan.FromMilliseconds(options.FrameMs);
        var audioDuration = frameTime * frameCount;
        var encoded = new Dictionary<int, byte[]>();
        var frame = new float[encoder.SamplesPerFrame];
        var nextToEncode = 0;
        var newestSent = -1;
        long sent = 0;
        var started = _time.GetTimestamp();

        MeetingStreamCounts Counts() => new(frameCount, sent, plan.Lost, plan.Duplicated, plan.Reordered, frameCount - 1, audioDuration, _time.GetElapsedTime(started));

        foreach (var seq in plan.Order)
        {
            // Encode in sequence order, lost frames too: the encoder's state must follow the audio as the earbuds' did.
            while (nextToEncode <= seq)
            {
                var offset = nextToEncode * encoder.SamplesPerFrame;
                var length = Math.Min(encoder.SamplesPerFrame, samples.Length - offset);
                samples.Span.Slice(offset, length).CopyTo(frame);
                frame.AsSpan(length).Clear();
                var packet = encoder.Encode(frame);
                if (uses[nextToEncode] > 0)
                {
                    encoded[nextToEncode] = packet;
                }

                nextToEncode++;
            }

            // A frame is due when the newest audio in it or before it was captured: a held-back frame goes right
            // after the one that overtook it.
            newestSent = Math.Max(newestSent, seq);
            if (options.Speed > 0)
            {
                var due = frameTime * (newestSent + 1) / options.Speed;
                var wait = due - _time.GetElapsedTime(started);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            var payload = encoded[seq];
            if (--uses[seq] == 0)
            {
                encoded.Remove(seq);
            }

            await PublishFrameAsync(sessionId, seq, codecName, payload, cancellationToken).ConfigureAwait(false);
            sent++;
            if (progress is not null && sent % 25 == 0)
            {
                progress.Report(Counts());
            }
        }

        var counts = Counts();
        progress?.Report(counts);
        return counts;
    }

    private static void ThrowIfInvalid(MeetingStreamOptions options)
    {
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
    }

    private async Task PublishFrameAsync(string sessionId, int seq, string codecName, byte[] payload, CancellationToken cancellationToken)
    {
        var result = await _client.PublishAsync(MeetingAudioFrame.Create(DeviceId, sessionId, seq, codecName, payload), cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            throw new ApplianceClientException($"The broker refused audio frame {seq}: {result.ReasonCode} {result.ReasonString}");
        }
    }

    private async Task TryAbortAsync(string sessionId, TimeSpan timeout)
    {
        try
        {
            await AbortAsync(sessionId, timeout, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException)
        {
            // Best effort: the daemon also ends a meeting whose audio stops arriving.
        }
    }

    private async Task<RpcResult<MeetingControlResult>> ControlAsync(string sessionId, MeetingControl command, TimeSpan timeout, CancellationToken cancellationToken, bool retryBusy = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var remaining = timeout - watch.Elapsed;
            RpcReply reply;
            try
            {
                if (remaining <= TimeSpan.Zero)
                {
                    throw new TimeoutException();
                }

                reply = await _client.ControlMeetingAsync(sessionId, command, new RpcCallOptions { Timeout = remaining }, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"No reply to meeting {command.Action} for session {sessionId} from device {DeviceId} within {timeout.TotalSeconds:0.#} s. Is the daemon running and does it serve meetings?");
            }

            var wait = TimeSpan.FromSeconds(reply.Error?.RetryAfterSeconds ?? 1);
            if (retryBusy && reply.Error?.Code == RpcErrorCodes.Busy && watch.Elapsed + wait < timeout)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                continue;
            }

            return RpcMethods.MeetingsStop.ToResult(reply); // start, stop and abort answer the same MeetingControlResult
        }
    }
}
