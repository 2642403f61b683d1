using System.Threading.Channels;
using Appliance.Contracts;

namespace Appliance.OtaTool;

/// <summary>
/// The messages of some topic filters, kept flowing across broker restarts: when the connection drops (a device's
/// embedded broker restarts with the device after a switch), it connects again and subscribes again, and the retained
/// messages come anew. One reader; dispose it to stop.
/// </summary>
internal sealed class BrokerFeed : IAsyncDisposable
{
    private static readonly TimeSpan CheckEvery = TimeSpan.FromMilliseconds(500);
    private const int FirstAttempts = 10;
    private readonly ApplianceClientOptions _options;
    private readonly string[] _filters;
    private readonly Channel<ObservedMessage> _messages = Channel.CreateUnbounded<ObservedMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _loop = Task.CompletedTask;

    private BrokerFeed(ApplianceClientOptions options, string[] filters)
    {
        _options = options;
        _filters = filters;
    }

    /// <summary>The messages, in the order they arrived.</summary>
    public ChannelReader<ObservedMessage> Messages => _messages.Reader;

    /// <summary>Connects and subscribes (trying for about 5 s), so that an unreachable broker is an error soon; then keeps the feed going.</summary>
    /// <exception cref="BrokerUnreachableException">No connection within the first tries.</exception>
    public static async Task<BrokerFeed> StartAsync(ApplianceClientOptions options, string[] filters, CancellationToken cancellationToken)
    {
        var feed = new BrokerFeed(options, filters);

        // A few tries first: a device's embedded broker is down for a moment while the device restarts.
        (ApplianceClient Client, List<TopicSubscription> Subscriptions) connected = default;
        for (var attempt = 1; connected.Client is null; attempt++)
        {
            try
            {
                connected = await feed.ConnectAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerUnreachableException) when (attempt < FirstAttempts)
            {
                await Task.Delay(CheckEvery, cancellationToken).ConfigureAwait(false);
            }
        }

        var (client, subscriptions) = (connected.Client, connected.Subscriptions!);
        feed._loop = Task.Run(() => feed.RunAsync(client, subscriptions), CancellationToken.None);
        return feed;
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task<(ApplianceClient Client, List<TopicSubscription> Subscriptions)> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = await Connect(_options, cancellationToken).ConfigureAwait(false);
        var subscriptions = new List<TopicSubscription>();
        foreach (var filter in _filters)
        {
            subscriptions.Add(await client.SubscribeAsync(filter, cancellationToken).ConfigureAwait(false));
        }

        return (client, subscriptions);
    }

    /// <summary>Connects a client, turning every way of failing into one clear exception.</summary>
    public static async Task<ApplianceClient> Connect(ApplianceClientOptions options, CancellationToken cancellationToken)
    {
        try
        {
            return await ApplianceClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException or TimeoutException)
        {
            throw new BrokerUnreachableException($"cannot reach the MQTT broker at {options.Host}:{options.Port} ({e.Message}); check --host and --port, and that the broker (or the device's embedded one) runs");
        }
    }

    private async Task RunAsync(ApplianceClient client, List<TopicSubscription> subscriptions)
    {
        var token = _stopping.Token;
        while (!token.IsCancellationRequested)
        {
            var pumps = subscriptions.Select(s => PumpAsync(s, token)).ToList();
            try
            {
                while (client.IsConnected)
                {
                    await Task.Delay(CheckEvery, token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
            }

            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync().ConfigureAwait(false);
            }

            await client.DisposeAsync().ConfigureAwait(false);
            await Task.WhenAll(pumps).ConfigureAwait(false);

            // Connect again until it works or the feed stops.
            while (!token.IsCancellationRequested)
            {
                try
                {
                    (client, subscriptions) = await ConnectAsync(token).ConfigureAwait(false);
                    break;
                }
                catch (Exception e) when (e is BrokerUnreachableException or MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException)
                {
                    try
                    {
                        await Task.Delay(CheckEvery, token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            }
        }

        _messages.Writer.TryComplete();
    }

    private async Task PumpAsync(TopicSubscription subscription, CancellationToken token)
    {
        try
        {
            await foreach (var message in subscription.ReadAllAsync(token).ConfigureAwait(false))
            {
                _messages.Writer.TryWrite(message);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
            // The subscription ended with its connection.
        }
    }
}

/// <summary>The MQTT broker could not be reached; the message says where and what to check.</summary>
internal sealed class BrokerUnreachableException(string message) : Exception(message);
