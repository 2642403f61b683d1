using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Fleet;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the SIGKILL campaign runs.</summary>
/// <param name="Kills">How many times the daemon is killed.</param>
/// <param name="Meetings">Meetings streaming throughout, each 16 kHz PCM in 20 ms frames, in real time.</param>
/// <param name="MinRun">Shortest time the daemon runs (after it is ready) before a kill.</param>
/// <param name="MaxRun">Longest time; each kill comes at a random moment between the two.</param>
/// <param name="Seed">Seed of the kill moments.</param>
/// <param name="WorkDirectory">Where the broker's configuration and the daemon's working directory (its journals) go.</param>
internal sealed record KillSettings(int Kills, int Meetings, TimeSpan MinRun, TimeSpan MaxRun, int Seed, string WorkDirectory);

/// <summary>What the campaign found.</summary>
/// <param name="Kills">Kills made.</param>
/// <param name="FramesSent">Frames the meetings published, all meetings.</param>
/// <param name="FramesAccepted">Frames the daemon journaled, from <c>meetings.get</c> after the last stop.</param>
/// <param name="GapFrames">Frames the daemon reports missing: those sent while it was down.</param>
/// <param name="AcceptedLost">Frames a meeting had journaled before a kill and no longer had after the restart (must be 0).</param>
/// <param name="TornTails">Journals whose last record a kill cut short, dropped at restart (no accepted frame is in one).</param>
/// <param name="CorruptRecords">Journals with a corrupt record or header at restart (must be 0).</param>
/// <param name="Recoveries">Time from each kill to the restarted daemon's ready line.</param>
/// <param name="Completed">Meetings that completed (summary stored) after the last stop.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record KillReport(int Kills, long FramesSent, long FramesAccepted, long GapFrames, long AcceptedLost, int TornTails, int CorruptRecords, IReadOnlyList<TimeSpan> Recoveries, int Completed, string? Failure)
{
    /// <summary>Every frame is accepted or reported missing, none accepted was lost, no journal was corrupt, every meeting completed.</summary>
    public bool Passed(int meetings) => Failure is null && AcceptedLost == 0 && CorruptRecords == 0 && Completed == meetings && FramesAccepted + GapFrames == FramesSent;
}

/// <summary>
/// The SIGKILL campaign: meetings stream into a daemon on an external Mosquitto, and the daemon is killed (SIGKILL: no
/// shutdown code runs) at random moments and restarted each time, on the same journals. Before each kill every
/// meeting's accepted count is read; after the restart it must be at least that. At the end every meeting stops, and
/// every frame sent must be accepted or reported as a gap (the frames sent while the daemon was down), every meeting
/// must complete, and no journal may have been corrupt. Bounded: the kills given, and 60 s for each restart.
/// </summary>
internal static class KillCampaign
{
    /// <summary>The daemon's device id, in this campaign and the torn-write one.</summary>
    internal const string DeviceId = "kill-hub";
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    public static async Task<KillReport> RunAsync(KillSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.IngestOnly(vadModel: null, capacity: Math.Max(16, settings.Meetings)), settings.WorkDirectory, "kill-profile");
        var daemonFolder = Path.Combine(settings.WorkDirectory, "kill-daemon");
        await using var broker = await BenchMosquitto.StartAsync(settings.WorkDirectory).ConfigureAwait(false);
        progress($"kills: Mosquitto {broker.Version} on 127.0.0.1:{broker.Port}");
        var daemon = await StartDaemonAsync(profilePath, daemonFolder, broker.Port, cancellationToken).ConfigureAwait(false);
        using var meetings = new StreamingMeetings("kill", settings.Meetings);
        var recoveries = new List<TimeSpan>();
        int torn = 0, corrupt = 0;
        long acceptedLost = 0;
        string? failure = null;
        var random = new Random(settings.Seed);
        await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = DeviceId, DefaultTimeout = TimeSpan.FromSeconds(20) }, cancellationToken).ConfigureAwait(false);
        try
        {
            if (await meetings.StartAsync(earbuds, message => earbuds.PublishAsync(message, CancellationToken.None), DeviceId, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                return Failed(problem);
            }

            for (var kill = 1; kill <= settings.Kills; kill++)
            {
                await Task.Delay(CampaignMeetings.Between(random, settings.MinRun, settings.MaxRun), cancellationToken).ConfigureAwait(false);
                var before = await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false);
                var killedAt = Stopwatch.GetTimestamp();
                await daemon.DisposeAsync().ConfigureAwait(false); // SIGKILL
                daemon = await StartDaemonAsync(profilePath, daemonFolder, broker.Port, cancellationToken).ConfigureAwait(false);
                recoveries.Add(Stopwatch.GetElapsedTime(killedAt));
                torn += daemon.Problems.Count(p => p.Contains("ended in TornTail", StringComparison.Ordinal));
                corrupt += daemon.Problems.Count(p => p.Contains("ended in Corrupt", StringComparison.Ordinal) || p.Contains("ended in BadHeader", StringComparison.Ordinal));
                var after = await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false);
                acceptedLost += CampaignMeetings.Lost(before, after);
                if (kill % 10 == 0 || kill == settings.Kills)
                {
                    progress(string.Create(CultureInfo.InvariantCulture, $"kills: {kill} of {settings.Kills}; accepted lost so far {acceptedLost}, corrupt journals {corrupt}"));
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

        try
        {
            var (accepted, gaps, completed, problem) = await CampaignMeetings.FinishAsync(earbuds, meetings.Sessions, meetings.Next, cancellationToken).ConfigureAwait(false);
            return new KillReport(recoveries.Count, meetings.Sent, accepted, gaps, acceptedLost, torn, corrupt, recoveries, completed, failure ?? problem);
        }
        finally
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        KillReport Failed(string why) => new(recoveries.Count, meetings.Sent, 0, 0, acceptedLost, torn, corrupt, recoveries, 0, why);
    }

    /// <summary>Starts the daemon on the journals in <paramref name="folder"/>, reconnecting fast: it is restarted again and again.</summary>
    internal static Task<BenchDaemon> StartDaemonAsync(string profilePath, string folder, int brokerPort, CancellationToken cancellationToken) =>
        BenchDaemon.StartAsync(profilePath, DeviceId, folder, ReadyTimeout, cancellationToken, brokerPort, ["--Mqtt:ReconnectInitialDelayMs=100", "--Mqtt:ReconnectMaxDelayMs=500"]);
}
