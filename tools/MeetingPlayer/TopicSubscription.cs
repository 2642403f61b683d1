using System.Threading.Channels;
using Appliance.Contracts;
using MQTTnet;

namespace Appliance.MeetingPlayer;

/// <summary>
/// Observes one topic filter on an <see cref="ApplianceClient"/> into a channel the owner gives (and completes), and is known to be subscribed at the
/// broker when <see cref="StartAsync"/> returns (so nothing published afterwards is missed). Dispose to stop.
/// </summary>
internal sealed class TopicSubscription : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly ChannelWriter<ObservedMessage> _sink;
    private Task _pump = Task.CompletedTask;

    private TopicSubscription(string filter, ChannelWriter<ObservedMessage> sink)
    {
        Filter = filter;
        _sink = sink;
    }

    public string Filter { get; }

    /// <summary>Subscribes to <paramref name="filter"/>. Throws <see cref="ApplianceClientException"/> when the broker refuses.</summary>
    public static async Task<TopicSubscription> StartAsync(ApplianceClient client, string filter, ChannelWriter<ObservedMessage> sink, CancellationToken cancellationToken)
    {
        var subscription = new TopicSubscription(filter, sink);
        var enumerator = client.ObserveAsync(filter, subscription._stop.Token).GetAsyncEnumerator(subscription._stop.Token);

        // The iterator registers its observer synchronously, inside this first MoveNextAsync, before its own
        // subscribe goes out; so the observer exists before any message (a retained one included) can arrive.
        var first = enumerator.MoveNextAsync();
        subscription._pump = subscription.PumpAsync(enumerator, first);
        try
        {
            // ObserveAsync gives no signal when its SUBACK came back. A second SUBSCRIBE of the same filter is
            // harmless (the broker may replay retained messages, which readers treat as repeats), and the broker
            // answers subscriptions in order, so this acknowledgement means the filter is live.
            var code = await client.TrySubscribeAsync(filter, cancellationToken).ConfigureAwait(false);
            if (code is not (MqttClientSubscribeResultCode.GrantedQoS0 or MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2))
            {
                throw new ApplianceClientException($"The broker refused the subscription to {filter}: {code}");
            }

            return subscription;
        }
        catch
        {
            await subscription.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _pump.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping is what was asked for.
        }

        _stop.Dispose();
    }

    private async Task PumpAsync(IAsyncEnumerator<ObservedMessage> enumerator, ValueTask<bool> first)
    {
        try
        {
            // ObserveAsync ends only when cancelled; a full unbounded channel cannot refuse a write.
            var more = await first.ConfigureAwait(false);
            while (more)
            {
                _sink.TryWrite(enumerator.Current);
                more = await enumerator.MoveNextAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            await enumerator.DisposeAsync().ConfigureAwait(false);
        }
    }
}
