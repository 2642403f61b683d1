using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Fleet;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using MQTTnet;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the broker-loss campaign runs.</summary>
/// <param name="Outages">How many times the broker is stopped and started again.</param>
/// <param name="Meetings">Meetings streaming throughout, each 16 kHz PCM in 20 ms frames, in real time.</param>
/// <param name="MinRun">Shortest time the broker runs before an outage.</param>
/// <param name="MaxRun">Longest; each outage begins at a random moment between the two.</param>
/// <param name="MinDown">Shortest outage.</param>
/// <param name="MaxDown">Longest outage; each lasts a random time between the two.</param>
/// <param name="Seed">Seed of the moments and lengths.</param>
/// <param name="WorkDirectory">Where the broker's configuration and the daemon's working directory go.</param>
internal sealed record BrokerLossSettings(int Outages, int Meetings, TimeSpan MinRun, TimeSpan MaxRun, TimeSpan MinDown, TimeSpan MaxDown, int Seed, string WorkDirectory);

/// <summary>What the campaign found.</summary>
/// <param name="Outages">Outages made.</param>
/// <param name="FramesSent">Frames the meetings sent (tried to publish), all meetings.</param>
/// <param name="FramesAccepted">Frames the daemon journaled, from <c>meetings.get</c> after the last stop.</param>
/// <param name="GapFrames">Frames the daemon reports missing: those sent while the broker or a connection was down.</param>
/// <param name="AcceptedLost">Frames a meeting had journaled before an outage and no longer had after it (must be 0).</param>
/// <param name="Reconnects">Time from each broker start to the daemon answering a request again (its reconnect back-off included).</param>
/// <param name="Completed">Meetings that completed after the last stop.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record BrokerLossReport(int Outages, long FramesSent, long FramesAccepted, long GapFrames, long AcceptedLost, IReadOnlyList<TimeSpan> Reconnects, int Completed, string? Failure)
{
    /// <summary>Every frame is accepted or reported missing, none accepted was lost, the daemon answered after every outage, every meeting completed.</summary>
    public bool Passed(int meetings) => Failure is null && AcceptedLost == 0 && Completed == meetings && FramesAccepted + GapFrames == FramesSent;
}

/// <summary>
/// The broker-loss campaign: meetings stream into a daemon on an external Mosquitto, and the broker is killed and
/// started again on its port (no persistence: retained messages are gone too), again and again. The daemon must
/// reconnect by itself with its back-off, answer requests again, keep every frame it accepted, and report the frames
/// sent while the broker was down as gaps; every meeting must complete. The earbuds and the campaign's own client
/// reconnect as an app would. Bounded: the outages given, and 60 s for each reconnection.
/// </summary>
internal static class BrokerLossCampaign
{
    private const string DeviceId = "loss-hub";
    private static readonly TimeSpan ReconnectLimit = TimeSpan.FromSeconds(60);

    public static async Task<BrokerLossReport> RunAsync(BrokerLossSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.IngestOnly(vadModel: null, capacity: Math.Max(16, settings.Meetings)), settings.WorkDirectory, "loss-profile");
        await using var broker = await BenchMosquitto.StartAsync(settings.WorkDirectory).ConfigureAwait(false);
        progress($"broker loss: Mosquitto {broker.Version} on 127.0.0.1:{broker.Port}");
        await using var daemon = await BenchDaemon.StartAsync(profilePath, DeviceId, Path.Combine(settings.WorkDirectory, "loss-daemon"), TimeSpan.FromSeconds(60), cancellationToken, broker.Port).ConfigureAwait(false);
        await using var link = new ClientLink(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = DeviceId, DefaultTimeout = TimeSpan.FromSeconds(5) });
        using var meetings = new StreamingMeetings("loss", settings.Meetings);
        var reconnects = new List<TimeSpan>();
        long acceptedLost = 0;
        string? failure = null;
        var random = new Random(settings.Seed);
        try
        {
            if (await meetings.StartAsync(await link.ConnectedAsync(cancellationToken).ConfigureAwait(false), link.TryPublishAsync, DeviceId, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                return new BrokerLossReport(0, 0, 0, 0, 0, reconnects, 0, problem);
            }

            for (var outage = 1; outage <= settings.Outages; outage++)
            {
                await Task.Delay(CampaignMeetings.Between(random, settings.MinRun, settings.MaxRun), cancellationToken).ConfigureAwait(false);
                var before = await CampaignMeetings.AcceptedAsync(await link.ConnectedAsync(cancellationToken).ConfigureAwait(false), meetings.Sessions, cancellationToken).ConfigureAwait(false);
                await broker.StopAsync().ConfigureAwait(false);
                await Task.Delay(CampaignMeetings.Between(random, settings.MinDown, settings.MaxDown), cancellationToken).ConfigureAwait(false);
                await broker.RestartAsync().ConfigureAwait(false);
                var upAt = Stopwatch.GetTimestamp();
                await CampaignMeetings.AnsweringAsync(link.ConnectedAsync, cancellationToken).ConfigureAwait(false);
                reconnects.Add(Stopwatch.GetElapsedTime(upAt));
                var after = await CampaignMeetings.AcceptedAsync(await link.ConnectedAsync(cancellationToken).ConfigureAwait(false), meetings.Sessions, cancellationToken).ConfigureAwait(false);
                acceptedLost += CampaignMeetings.Lost(before, after);
                if (outage % 5 == 0 || outage == settings.Outages)
                {
                    progress(string.Create(CultureInfo.InvariantCulture, $"broker loss: {outage} of {settings.Outages}; accepted lost so far {acceptedLost}"));
                }
            }
        }
        catch (Exception ex) when (CampaignMeetings.IsFault(ex))
        {
            failure = CampaignMeetings.Describe(ex, daemon);
        }
        finally
        {
            await meetings.StopAsync().ConfigureAwait(false);
        }

        var (accepted, gaps, completed, finishProblem) = await CampaignMeetings.FinishAsync(await link.ConnectedAsync(cancellationToken).ConfigureAwait(false), meetings.Sessions, meetings.Next, cancellationToken).ConfigureAwait(false);
        return new BrokerLossReport(reconnects.Count, meetings.Sent, accepted, gaps, acceptedLost, reconnects, completed, failure ?? finishProblem);
    }

    /// <summary>A client that connects again after losing the broker, as an app does; one connection at a time.</summary>
    private sealed class ClientLink(ApplianceClientOptions options) : IAsyncDisposable
    {
        private readonly SemaphoreSlim _gate = new(1, 1);
        private volatile ApplianceClient? _client;

        /// <summary>The connected client, connecting again first when the broker was lost (trying every 100 ms for 60 s).</summary>
        /// <exception cref="TimeoutException">The broker could not be reached for 60 s.</exception>
        public async Task<ApplianceClient> ConnectedAsync(CancellationToken cancellationToken)
        {
            await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var watch = Stopwatch.StartNew();
                while (_client is not { IsConnected: true })
                {
                    if (_client is not null)
                    {
                        await _client.DisposeAsync().ConfigureAwait(false);
                        _client = null;
                    }

                    try
                    {
                        _client = await ApplianceClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException && watch.Elapsed < ReconnectLimit)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException)
                    {
                        throw new TimeoutException($"The broker could not be reached for {ReconnectLimit.TotalSeconds:0} s: {ex.Message}", ex);
                    }
                }

                return _client;
            }
            finally
            {
                _gate.Release();
            }
        }

        /// <summary>Publishes when connected; a frame sent while the broker is down is lost, as an earbud's would be.</summary>
        public async Task TryPublishAsync(MqttApplicationMessage message)
        {
            if (_client is { IsConnected: true } client)
            {
                try
                {
                    await client.PublishAsync(message, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ObjectDisposedException or InvalidOperationException)
                {
                    // The broker went away mid-publish, or the link is connecting again: the frame is lost.
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_client is not null)
            {
                await _client.DisposeAsync().ConfigureAwait(false);
            }

            _gate.Dispose();
        }
    }
}
