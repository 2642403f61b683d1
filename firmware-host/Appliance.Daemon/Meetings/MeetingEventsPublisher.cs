using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Meetings.Pipeline;

namespace Appliance.Daemon.Meetings;

/// <summary>The meeting pipeline's events, published on the meeting's topics with the contract's QoS and retain flags.</summary>
internal sealed class MeetingEventsPublisher(MqttConnection mqtt, DeviceContext device) : IMeetingEvents
{
    public Task TranscriptAsync(string sessionId, TranscriptSegment segment, CancellationToken cancellationToken) =>
        mqtt.TryPublishAsync(Channels.MeetingTranscript, Topics.MeetingTranscript(device.DeviceId, sessionId), segment, cancellationToken);

    public Task ProgressAsync(string sessionId, MeetingProgress progress, CancellationToken cancellationToken) =>
        mqtt.TryPublishAsync(Channels.MeetingProgress, Topics.MeetingProgress(device.DeviceId, sessionId), progress, cancellationToken);

    public Task SummaryAsync(string sessionId, MeetingSummary summary, CancellationToken cancellationToken) =>
        mqtt.TryPublishAsync(Channels.MeetingSummary, Topics.MeetingSummary(device.DeviceId, sessionId), summary, cancellationToken);

    public Task DeletedAsync(string sessionId, CancellationToken cancellationToken) =>
        mqtt.TryClearRetainedAsync(Channels.MeetingSummary, Topics.MeetingSummary(device.DeviceId, sessionId), cancellationToken);
}
