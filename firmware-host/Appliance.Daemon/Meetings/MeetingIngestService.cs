using System.Buffers;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Meetings;
using Appliance.Meetings.Pipeline;
using Microsoft.Extensions.Hosting;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Meetings;

/// <summary>
/// Owns the audio ingest: subscribes the meetings' audio topics (for the daemon alone: with the embedded broker they come
/// straight from each publisher's connection, see <see cref="MqttSubscription.DaemonOnly"/>), hands each frame to <see cref="MeetingIngest"/> (which
/// never waits on the disk), and runs its journaling loop. At stop it takes no more frames and journals what was
/// received before it returns.
/// </summary>
internal sealed class MeetingIngestService : BackgroundService
{
    private readonly MeetingIngest _ingest;
    private readonly DeviceContext _device;
    private readonly TimeProvider _time;

    public MeetingIngestService(MeetingIngest ingest, MqttConnection mqtt, DeviceContext device, DeviceMetrics metrics, TimeProvider time)
    {
        metrics.ObserveMeetingFrames(() => ingest.AcceptedFrames, () => ingest.LostFrames);
        _ingest = ingest;
        _device = device;
        _time = time;
        mqtt.Subscribe(new MqttSubscription(Topics.MeetingFilter(device.DeviceId, MeetingTopic.Audio), Channels.MeetingAudio.Qos, OnAudioAsync, DaemonOnly: true));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _ingest.Complete();
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _ingest.RunAsync();

    /// <summary>Queues a frame for the ingest loop; never waits (a full queue drops the frame, counted).</summary>
    private Task OnAudioAsync(MqttApplicationMessage message)
    {
        if (!Topics.TryGetMeetingSession(message.Topic, _device.DeviceId, MeetingTopic.Audio, out var sessionId)
            || !MeetingAudioFrame.TryRead(message, out var sequence, out var codec))
        {
            _ingest.CountDropped();
            return Task.CompletedTask;
        }

        // The payload is MQTTnet's buffer, reused after this handler returns: the ingest keeps a copy.
        var payload = message.Payload.IsSingleSegment ? message.Payload.First : message.Payload.ToArray();
        _ingest.TryEnqueue(sessionId, new AudioFrame(sequence, codec, _time.GetUtcNow().ToUnixTimeMilliseconds() * 1000, payload));
        return Task.CompletedTask;
    }
}
