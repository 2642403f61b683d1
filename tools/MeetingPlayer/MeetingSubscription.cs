using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Appliance.Contracts;

namespace Appliance.MeetingPlayer;

/// <summary>
/// The daemon's transcript, progress and summary messages of one meeting, subscribed at the broker before
/// <see cref="MeetingStreamer.SubscribeAsync"/> returns. One reader at a time; dispose to stop receiving.
/// </summary>
public sealed class MeetingSubscription : IAsyncDisposable
{
    private readonly List<TopicSubscription> _topics = [];
    private readonly Channel<MeetingEvent> _events = Channel.CreateUnbounded<MeetingEvent>();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];

    private MeetingSubscription()
    {
    }

    /// <summary>Subscribes to the transcript, progress and summary topics (not to the audio this side sends).</summary>
    internal static async Task<MeetingSubscription> StartAsync(ApplianceClient client, string sessionId, CancellationToken cancellationToken)
    {
        var subscription = new MeetingSubscription();
        try
        {
            foreach (var (topic, parse) in new (string, Func<ObservedMessage, MeetingEvent>)[]
            {
                (Topics.MeetingTranscript(client.DeviceId, sessionId), m => m.Deserialize<TranscriptSegment>() is { } s ? new TranscriptEvent(m, s) : new MalformedEvent(m, "transcript is null")),
                (Topics.MeetingProgress(client.DeviceId, sessionId), m => m.Deserialize<MeetingProgress>() is { } p ? new ProgressEvent(m, p) : new MalformedEvent(m, "progress is null")),
                (Topics.MeetingSummary(client.DeviceId, sessionId), m => m.Deserialize<MeetingSummary>() is { } s ? new SummaryEvent(m, s) : new MalformedEvent(m, "summary is null")),
            })
            {
                var topicSubscription = await client.SubscribeAsync(topic, cancellationToken).ConfigureAwait(false);
                subscription._topics.Add(topicSubscription);
                subscription._pumps.Add(subscription.PumpAsync(topicSubscription, parse));
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
        while (true)
        {
            MeetingEvent next;
            try
            {
                if (!await _events.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false) || !_events.Reader.TryRead(out next!))
                {
                    if (_events.Reader.Completion.IsCompleted)
                    {
                        yield break;
                    }

                    continue;
                }
            }
            catch (OperationCanceledException)
            {
                yield break;
            }

            yield return next;
        }
    }

    /// <summary>Reads, and drops, the events until the meeting's summary arrives (as <see cref="ReadAllAsync"/>'s one reader).</summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The summary message's payload (UTF-8 JSON); null when cancelled or disposed before it came.</returns>
    public async Task<byte[]?> ReadSummaryAsync(CancellationToken cancellationToken = default)
    {
        await foreach (var e in ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            if (e is SummaryEvent summary)
            {
                return summary.Message.Payload;
            }
        }

        return null;
    }

    /// <summary>Stops receiving; a reader's enumeration ends after the events already received.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        foreach (var topic in _topics)
        {
            await topic.DisposeAsync().ConfigureAwait(false);
        }

        await Task.WhenAll(_pumps).ConfigureAwait(false);
        _events.Writer.TryComplete();
        _stop.Dispose();
    }

    private async Task PumpAsync(TopicSubscription topic, Func<ObservedMessage, MeetingEvent> parse)
    {
        await foreach (var message in topic.ReadAllAsync(_stop.Token).ConfigureAwait(false))
        {
            MeetingEvent parsed;
            try
            {
                parsed = parse(message);
            }
            catch (JsonException ex)
            {
                parsed = new MalformedEvent(message, ex.Message);
            }

            _events.Writer.TryWrite(parsed);
        }
    }
}
