using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Audio;
using Appliance.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.MeetingPlayer;

/// <summary>
/// Plays a recording into the daemon as earbuds would: meeting control messages (start, stop, abort) with MQTT 5
/// request/response, and audio frames with sequence numbers, paced in (scaled) real time, with seeded simulated
/// loss, duplication and reordering. Used by the <c>meeting-player</c> tool and, in process, by the daemon's tests.
/// </summary>
/// <remarks>
/// The client is borrowed, not owned. Control calls may run concurrently; one stream per session at a time.
/// Replies come on <c>appliance/v1/{deviceId}/replies/{clientId}/meetings/{correlation}</c>:
/// <see cref="ApplianceClient"/> keeps <c>replies/{clientId}</c> itself for its RPC calls and drops anything there
/// it did not ask for, and its observed messages carry no correlation data, so the correlation is also the last level
/// of the response topic. Dispose to drop the reply subscription.
/// </remarks>
public sealed class MeetingStreamer : IAsyncDisposable
{
    private readonly ApplianceClient _client;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<RpcReply>> _pending = new(StringComparer.Ordinal);
    private readonly Channel<ObservedMessage> _replies = Channel.CreateUnbounded<ObservedMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _replyGate = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private TopicSubscription? _replySubscription;
    private Task _replyPump = Task.CompletedTask;

    /// <summary>Creates a streamer that speaks through <paramref name="client"/>.</summary>
    /// <param name="client">A connected client; it stays the caller's to dispose (after this streamer).</param>
    /// <param name="deviceId">The device whose daemon receives the meeting.</param>
    /// <param name="timeProvider">Clock of the pacing; the system clock when null.</param>
    public MeetingStreamer(ApplianceClient client, string deviceId, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        _client = client;
        DeviceId = deviceId;
        _time = timeProvider ?? TimeProvider.System;
        ReplyTopicPrefix = $"{Topics.Replies(deviceId, client.ClientId)}/meetings/";
    }

    public string DeviceId { get; }

    /// <summary>Response topics of control messages start with this; the correlation data (hex) follows.</summary>
    public string ReplyTopicPrefix { get; }

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
        MeetingSubscription.StartAsync(_client, DeviceId, sessionId, cancellationToken);

    /// <summary>Sends start with the codec, rate, framing, language and participants of <paramref name="options"/>.</summary>
    /// <exception cref="ArgumentException">The options are not usable (see <see cref="MeetingStreamOptions.Validate"/>).</exception>
    /// <exception cref="TimeoutException">No final reply within <see cref="MeetingStreamOptions.ControlTimeout"/>.</exception>
    public Task<MeetingControlReply> StartAsync(string sessionId, MeetingStreamOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ThrowIfInvalid(options);
        var start = new
        {
            action = "start",
            codec = MeetingProtocol.CodecName(options.Codec),
            sampleRate = options.EffectiveSampleRate,
            channels = 1,
            frameMs = options.FrameMs,
            language = options.Language,
            participants = options.Participants,
        };
        return ControlAsync(sessionId, start, options.ControlTimeout, cancellationToken);
    }

    /// <summary>Sends stop; <paramref name="lastSequence"/> is the last sequence number cut, sent or not.</summary>
    /// <exception cref="TimeoutException">No final reply in time (10 s when <paramref name="timeout"/> is null).</exception>
    public Task<MeetingControlReply> StopAsync(string sessionId, long lastSequence, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ControlAsync(sessionId, new { action = "stop", lastSequence }, timeout ?? TimeSpan.FromSeconds(10), cancellationToken);

    /// <summary>Sends abort: the daemon drops the meeting.</summary>
    /// <exception cref="TimeoutException">No final reply in time (10 s when <paramref name="timeout"/> is null).</exception>
    public Task<MeetingControlReply> AbortAsync(string sessionId, TimeSpan? timeout = null, CancellationToken cancellationToken = default) =>
        ControlAsync(sessionId, new { action = "abort" }, timeout ?? TimeSpan.FromSeconds(10), cancellationToken);

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
        var samples = rate == AudioFile.Mono16kRate ? mono16k : Resampler.ResampleAll(mono16k.Span, AudioFile.Mono16kRate, rate);
        using var encoder = new FrameEncoder(options.Codec, rate, options.FrameMs);
        var frameCount = checked((int)((samples.Length + (long)encoder.SamplesPerFrame - 1) / encoder.SamplesPerFrame));
        var plan = FaultPlan.Create(frameCount, options.LossRate, options.DuplicateRate, options.ReorderRate, options.Seed);

        var uses = new byte[frameCount];
        foreach (var seq in plan.Order)
        {
            uses[seq]++;
        }

        var topic = MeetingProtocol.Audio(DeviceId, sessionId);
        ReadOnlyMemory<byte> codecName = Encoding.UTF8.GetBytes(MeetingProtocol.CodecName(options.Codec));
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

            await PublishFrameAsync(topic, seq, codecName, payload, cancellationToken).ConfigureAwait(false);
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

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_replySubscription is not null)
        {
            await _replySubscription.DisposeAsync().ConfigureAwait(false);
        }

        _replies.Writer.TryComplete();
        await _replyPump.ConfigureAwait(false);
        foreach (var pending in _pending.Values)
        {
            pending.TrySetCanceled();
        }

        _replyGate.Dispose();
        _stop.Dispose();
    }

    private static void ThrowIfInvalid(MeetingStreamOptions options)
    {
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }
    }

    private async Task PublishFrameAsync(string topic, int seq, ReadOnlyMemory<byte> codecName, byte[] payload, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtMostOnce)
            .WithMessageExpiryInterval(MeetingProtocol.AudioExpirySeconds)
            .WithUserProperty(MeetingProtocol.SequenceProperty, Encoding.UTF8.GetBytes(seq.ToString(CultureInfo.InvariantCulture)).AsMemory())
            .WithUserProperty(MeetingProtocol.CodecProperty, codecName)
            .Build();
        var result = await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
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

    private async Task<MeetingControlReply> ControlAsync(string sessionId, object body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        await EnsureReplySubscriptionAsync(cancellationToken).ConfigureAwait(false);

        var correlation = RandomNumberGenerator.GetBytes(16);
        var key = Convert.ToHexStringLower(correlation);
        var reply = new TaskCompletionSource<RpcReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[key] = reply;
        try
        {
            var message = new MqttApplicationMessageBuilder()
                .WithTopic(MeetingProtocol.Control(DeviceId, sessionId))
                .WithPayload(JsonSerializer.SerializeToUtf8Bytes(body, ContractJson.Options))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .WithResponseTopic(ReplyTopicPrefix + key)
                .WithCorrelationData(correlation)
                .WithContentType("application/json")
                .Build();
            var published = await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            if (!published.IsSuccess)
            {
                throw new ApplianceClientException($"The broker refused the meeting control message: {published.ReasonCode} {published.ReasonString}");
            }

            try
            {
                var final = await reply.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
                return new MeetingControlReply(final.Result, final.Error ?? (final.Result is null ? new RpcError("invalid_reply", "The reply holds neither a result nor an error.") : null));
            }
            catch (TimeoutException)
            {
                throw new TimeoutException($"No reply to meeting control '{JsonSerializer.Serialize(body, ContractJson.Options)}' for session {sessionId} from device {DeviceId} within {timeout.TotalSeconds:0.#} s. Is the daemon running and does it serve meetings?");
            }
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    private async Task EnsureReplySubscriptionAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _replySubscription) is not null)
        {
            return;
        }

        await _replyGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_replySubscription is null)
            {
                var subscription = await TopicSubscription.StartAsync(_client, ReplyTopicPrefix + "+", _replies.Writer, cancellationToken).ConfigureAwait(false);
                _replyPump = DispatchRepliesAsync();
                Volatile.Write(ref _replySubscription, subscription);
            }
        }
        finally
        {
            _replyGate.Release();
        }
    }

    private async Task DispatchRepliesAsync()
    {
        await foreach (var message in _replies.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
        {
            var key = message.Topic[ReplyTopicPrefix.Length..];
            if (!_pending.TryGetValue(key, out var pending))
            {
                continue;
            }

            RpcReply? reply;
            try
            {
                reply = message.Deserialize<RpcReply>();
            }
            catch (JsonException ex)
            {
                pending.TrySetResult(new RpcReply { Final = true, Error = new RpcError("invalid_reply", $"The daemon's reply is not valid JSON: {ex.Message}") });
                continue;
            }

            if (reply is { Final: true })
            {
                pending.TrySetResult(reply);
            }
        }
    }
}
