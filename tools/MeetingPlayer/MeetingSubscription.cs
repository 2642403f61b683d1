using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Contracts;

namespace Appliance.MeetingPlayer;

/// <summary>
/// The daemon's transcript, progress and summary messages of one meeting, subscribed at the broker before
/// <see cref="MeetingStreamer.SubscribeAsync"/> returns. One reader at a time; dispose to unsubscribe locally.
/// </summary>
public sealed class MeetingSubscription : IAsyncDisposable
{
    private readonly List<TopicSubscription> _topics = [];
    private readonly Channel<ObservedMessage> _messages = Channel.CreateUnbounded<ObservedMessage>();
    private readonly string _prefix;

    private MeetingSubscription(string prefix) => _prefix = prefix;

    /// <summary>Subscribes to the transcript, progress and summary topics (not to the audio this side sends).</summary>
    internal static async Task<MeetingSubscription> StartAsync(ApplianceClient client, string deviceId, string sessionId, CancellationToken cancellationToken)
    {
        var subscription = new MeetingSubscription(MeetingProtocol.SessionPrefix(deviceId, sessionId));
        try
        {
            foreach (var topic in new[] { MeetingProtocol.Transcript(deviceId, sessionId), MeetingProtocol.Progress(deviceId, sessionId), MeetingProtocol.Summary(deviceId, sessionId) })
            {
                subscription._topics.Add(await TopicSubscription.StartAsync(client, topic, subscription._messages.Writer, cancellationToken).ConfigureAwait(false));
            }

            return subscription;
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Yields every message as it arrives until cancelled or disposed. Unreadable messages come as <see cref="MalformedEvent"/>.</summary>
    public async IAsyncEnumerable<MeetingEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var reader = _messages.Reader;
        while (true)
        {
            ObservedMessage message;
            try
            {
                if (!await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    yield break;
                }

                if (!reader.TryRead(out message!))
                {
                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            yield return Parse(message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var topic in _topics)
        {
            await topic.DisposeAsync().ConfigureAwait(false);
        }

        _messages.Writer.TryComplete();
    }

    internal MeetingEvent Parse(ObservedMessage message)
    {
        var kind = message.Topic.StartsWith(_prefix, StringComparison.Ordinal) ? message.Topic[_prefix.Length..] : message.Topic;
        try
        {
            switch (kind)
            {
                case "transcript":
                    var segment = message.Deserialize<TranscriptSegment>();
                    return segment is null ? new MalformedEvent(message, "transcript is null") : new TranscriptEvent(message, segment);
                case "progress":
                    var progress = message.Deserialize<MeetingProgress>();
                    return progress is null ? new MalformedEvent(message, "progress is null") : new ProgressEvent(message, progress);
                case "summary":
                    var summary = message.Deserialize<MeetingSummaryDocument>();
                    return summary is null ? new MalformedEvent(message, "summary is null") : new SummaryEvent(message, summary);
                default:
                    return new MalformedEvent(message, $"unexpected topic '{kind}'");
            }
        }
        catch (JsonException ex)
        {
            return new MalformedEvent(message, ex.Message);
        }
    }
}
