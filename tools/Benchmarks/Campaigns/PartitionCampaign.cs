using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Fleet;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the partition campaign runs.</summary>
/// <param name="Cuts">How many times the daemon's link is cut; odd cuts are short, even ones long.</param>
/// <param name="Meetings">Meetings streaming throughout, each 16 kHz PCM in 20 ms frames, in real time.</param>
/// <param name="KeepAliveSeconds">The daemon's <c>Mqtt:KeepAliveSeconds</c>: a silence of 1.5 times it ends its session at the broker.</param>
/// <param name="Seed">Seed of the cut moments and lengths.</param>
/// <param name="WorkDirectory">Where the broker's configuration and the daemon's working directory go.</param>
/// <param name="ImpairedFor">After the cuts, how long the link is lossy, and then how long it is bad (0: neither).</param>
/// <param name="BadLink">What the bad link does to each packet, each way; the lossy link does only its loss.</param>
internal sealed record PartitionSettings(int Cuts, int Meetings, int KeepAliveSeconds, int Seed, string WorkDirectory, TimeSpan ImpairedFor, LinkImpairment BadLink)
{
    /// <summary>The lossy link: the bad link's loss, without its delay and reordering.</summary>
    public LinkImpairment LossyLink => BadLink with { Delay = TimeSpan.Zero, Reorder = 0 };

    /// <summary>How long the broker waits for a silent client before it publishes the client's last will (MQTT 3.1.1 §3.1.2.10, MQTT 5 §3.1.2.10).</summary>
    public TimeSpan WillAfter => TimeSpan.FromSeconds(KeepAliveSeconds * 1.5);

    /// <summary>A short cut: at most half the keep-alive, so no session may end for it.</summary>
    public (TimeSpan Min, TimeSpan Max) ShortCut => (TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(KeepAliveSeconds / 2.0));

    /// <summary>
    /// The latest the last will may come after a cut: 1.5 times the keep-alive, plus 7 s because Mosquitto 2.0 looks at
    /// its clients' keep-alives only every 5 s or so, in whole seconds (its <c>keepalive__check</c>).
    /// </summary>
    public TimeSpan WillDeadline => WillAfter + TimeSpan.FromSeconds(7);

    /// <summary>A long cut: past the will's deadline, by 1 to 4 s.</summary>
    public (TimeSpan Min, TimeSpan Max) LongCut => (WillDeadline + TimeSpan.FromSeconds(1), WillDeadline + TimeSpan.FromSeconds(4));
}

/// <summary>What the campaign found.</summary>
/// <param name="ShortCuts">Cuts shorter than half the keep-alive.</param>
/// <param name="LongCuts">Cuts longer than 1.5 times the keep-alive.</param>
/// <param name="WillsOnLongCuts">Long cuts during which the broker published the daemon's last will by the deadline (<see cref="PartitionSettings.WillDeadline"/>; must equal <paramref name="LongCuts"/>).</param>
/// <param name="WillsOnShortCuts">Short cuts during which it did (must be 0: the session survives them).</param>
/// <param name="WillDelays">From each long cut to its last will.</param>
/// <param name="Reconnects">From the link's return to the daemon answering <c>health.get</c>.</param>
/// <param name="FramesSent">Frames the meetings published.</param>
/// <param name="FramesAccepted">Frames journaled, after the last stop.</param>
/// <param name="GapFrames">Frames reported missing after the last stop.</param>
/// <param name="AcceptedLost">Frames accepted before a cut and gone after it (must be 0).</param>
/// <param name="Completed">Meetings completed after the last stop.</param>
/// <param name="LossyLink">While the link only lost packets: no last will and every request answered in time.</param>
/// <param name="BadLink">While the link also delayed and reordered them: figures only, the daemon answering after it.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record PartitionReport(
    int ShortCuts,
    int LongCuts,
    int WillsOnLongCuts,
    int WillsOnShortCuts,
    IReadOnlyList<TimeSpan> WillDelays,
    IReadOnlyList<TimeSpan> Reconnects,
    long FramesSent,
    long FramesAccepted,
    long GapFrames,
    long AcceptedLost,
    int Completed,
    ImpairedPhase LossyLink,
    ImpairedPhase BadLink,
    string? Failure)
{
    /// <summary>
    /// Every long cut gave the last will and no short one did, the lossy link ended no session and had every request
    /// answered, none accepted was lost, every frame is accounted for and every meeting completed.
    /// </summary>
    public bool Passed(int meetings) =>
        Failure is null && WillsOnLongCuts == LongCuts && WillsOnShortCuts == 0 && LossyLink.Wills == 0 && LossyLink.Answered == LossyLink.Requests
        && AcceptedLost == 0 && Completed == meetings && FramesAccepted + GapFrames == FramesSent;
}

/// <summary>What happened while the link was impaired.</summary>
/// <param name="Requests">Requests (<c>health.get</c>, one a second, 5 s time-out each) made meanwhile.</param>
/// <param name="Answered">Of those, answered in time.</param>
/// <param name="Wills">Last wills the broker published meanwhile.</param>
/// <param name="Packets">What the link did to the packets that crossed it.</param>
/// <param name="Back">From the link's being good again to the daemon answering <c>health.get</c>.</param>
internal sealed record ImpairedPhase(int Requests, int Answered, int Wills, ImpairedLinkCounts Packets, TimeSpan Back)
{
    /// <summary>No phase ran.</summary>
    public static ImpairedPhase None { get; } = new(0, 0, 0, new ImpairedLinkCounts(0, 0, 0, 0), TimeSpan.Zero);
}

/// <summary>
/// The partition campaign: the daemon runs in a network namespace of its own, joined by one veth link to Mosquitto on
/// this machine, where the earbuds (this program) stream meetings over loopback. The link is cut (its host end taken
/// down: packets vanish without a reset, as when Wi-Fi goes) and joined again, short cuts and long ones in turn. A
/// short cut must not end the daemon's session; a long one must make the broker publish the daemon's last will
/// within <see cref="PartitionSettings.WillDeadline"/>, and the daemon must come back after the link does. Then the
/// link loses packets each way for a while: no session may end, and every request must be answered; and then it is
/// bad for as long (packets lost, delayed and reordered each way, <see cref="LinkImpairment"/>): its requests and last
/// wills are counted, and the daemon must answer again once the link is good.
/// Before each fault every meeting's accepted count is read, after it it must be at least that; at the end every
/// meeting stops and must complete with every frame accepted or reported missing. Bounded: the cuts and the time of
/// each impaired link given, and 60 s for each reconnection.
/// </summary>
internal static class PartitionCampaign
{
    private const string DeviceId = "partition-hub";

    public static async Task<PartitionReport> RunAsync(PartitionSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.IngestOnly(vadModel: null, capacity: Math.Max(16, settings.Meetings)), settings.WorkDirectory, "partition-profile");
        await using var space = await NetworkNamespace.CreateAsync().ConfigureAwait(false);
        await using var broker = await BenchMosquitto.StartAsync(settings.WorkDirectory, alsoOn: space.HostAddress).ConfigureAwait(false);
        progress($"partitions: the daemon in network namespace {space.Name} ({space.InnerAddress}), Mosquitto {broker.Version} on {space.HostAddress}:{broker.Port} and loopback");
        await using var daemon = await BenchDaemon.StartAsync(
            profilePath,
            DeviceId,
            Path.Combine(settings.WorkDirectory, "partition-daemon"),
            TimeSpan.FromSeconds(60),
            cancellationToken,
            broker.Port,
            [string.Create(CultureInfo.InvariantCulture, $"--Mqtt:KeepAliveSeconds={settings.KeepAliveSeconds}")],
            space.Launcher,
            space.HostAddress).ConfigureAwait(false);
        await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = DeviceId, DefaultTimeout = TimeSpan.FromSeconds(20) }, cancellationToken).ConfigureAwait(false);
        var wills = new ConcurrentQueue<long>(); // when the broker published the daemon's last will
        await using var status = await earbuds.SubscribeAsync(Topics.Status(DeviceId), cancellationToken).ConfigureAwait(false);
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watcher = WatchWillsAsync(status, wills, watching.Token);
        using var meetings = new StreamingMeetings("part", settings.Meetings);
        var willDelays = new List<TimeSpan>();
        var reconnects = new List<TimeSpan>();
        int shortCuts = 0, longCuts = 0, willsOnLong = 0, willsOnShort = 0;
        ImpairedPhase lossyLink = ImpairedPhase.None, badLink = ImpairedPhase.None;
        long acceptedLost = 0;
        string? failure = null;
        var random = new Random(settings.Seed);
        try
        {
            if (await meetings.StartAsync(earbuds, message => earbuds.PublishAsync(message, CancellationToken.None), DeviceId, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                return Failed(problem);
            }

            for (var cut = 1; cut <= settings.Cuts; cut++)
            {
                // Runs outlast the daemon's 10 s "stable connection", so every cut meets its back-off from the start.
                await Task.Delay(CampaignMeetings.Between(random, TimeSpan.FromSeconds(11), TimeSpan.FromSeconds(13)), cancellationToken).ConfigureAwait(false);
                var isLong = cut % 2 == 0;
                var (min, max) = isLong ? settings.LongCut : settings.ShortCut;
                var before = await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false);
                wills.Clear();
                var cutAt = Stopwatch.GetTimestamp();
                await space.CutAsync().ConfigureAwait(false);
                await Task.Delay(CampaignMeetings.Between(random, min, max), cancellationToken).ConfigureAwait(false);
                await space.RestoreAsync().ConfigureAwait(false);
                var upAt = Stopwatch.GetTimestamp();
                await CampaignMeetings.AnsweringAsync(_ => Task.FromResult(earbuds), cancellationToken).ConfigureAwait(false);
                reconnects.Add(Stopwatch.GetElapsedTime(upAt));

                // A will may come late (when the daemon's new connection takes its session over): looked for once the
                // daemon answers again, and for a long cut not before its deadline has passed.
                if (isLong && wills.IsEmpty && settings.WillDeadline - Stopwatch.GetElapsedTime(cutAt) is { } rest && rest > TimeSpan.Zero)
                {
                    await Task.Delay(rest, cancellationToken).ConfigureAwait(false);
                }

                var will = wills.TryPeek(out var at) ? at : (long?)null;
                if (isLong)
                {
                    longCuts++;
                    if (will is { } willAt)
                    {
                        willDelays.Add(Stopwatch.GetElapsedTime(cutAt, willAt));
                        willsOnLong += willDelays[^1] <= settings.WillDeadline ? 1 : 0;
                    }
                }
                else
                {
                    shortCuts++;
                    willsOnShort += will is null ? 0 : 1;
                }

                var after = await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false);
                acceptedLost += CampaignMeetings.Lost(before, after);
                progress(string.Create(CultureInfo.InvariantCulture, $"partitions: cut {cut} of {settings.Cuts} ({(isLong ? "long" : "short")}): last will {(will is null ? "not published" : "published")}, back {reconnects[^1].TotalSeconds:F2} s after the link; accepted lost so far {acceptedLost}"));
            }

            if (settings.ImpairedFor > TimeSpan.Zero)
            {
                lossyLink = await ImpairedAsync("lossy", settings.LossyLink).ConfigureAwait(false);
                badLink = await ImpairedAsync("bad", settings.BadLink).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (CampaignMeetings.IsFault(ex))
        {
            failure = CampaignMeetings.Describe(ex, daemon);
        }
        finally
        {
            await meetings.StopAsync().ConfigureAwait(false);
            await watching.CancelAsync().ConfigureAwait(false);
            await watcher.ConfigureAwait(false);
        }

        await space.RestoreAsync().ConfigureAwait(false); // a cut a failure left open

        var (accepted, gaps, completed, finishProblem) = await CampaignMeetings.FinishAsync(earbuds, meetings.Sessions, meetings.Next, cancellationToken).ConfigureAwait(false);
        return new PartitionReport(shortCuts, longCuts, willsOnLong, willsOnShort, willDelays, reconnects, meetings.Sent, accepted, gaps, acceptedLost, completed, lossyLink, badLink, failure ?? finishProblem);

        PartitionReport Failed(string why) => new(shortCuts, longCuts, willsOnLong, willsOnShort, willDelays, reconnects, meetings.Sent, 0, 0, acceptedLost, 0, lossyLink, badLink, why);

        async Task<ImpairedPhase> ImpairedAsync(string name, LinkImpairment impairment)
        {
            var before = await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false);
            wills.Clear();
            int asked = 0, answered = 0;
            ImpairedLinkCounts packets;
            await using (var link = await space.ImpairAsync(impairment).ConfigureAwait(false))
            {
                var impaired = Stopwatch.StartNew();
                while (impaired.Elapsed < settings.ImpairedFor)
                {
                    var askedAt = Stopwatch.GetTimestamp();
                    asked++;
                    try
                    {
                        var reply = await earbuds.CallAsync(RpcMethods.HealthGet, new EmptyParams(), new RpcCallOptions { Timeout = TimeSpan.FromSeconds(5) }, cancellationToken).ConfigureAwait(false);
                        answered += reply.Result is null ? 0 : 1;
                    }
                    catch (TimeoutException)
                    {
                        // Not answered in time: counted.
                    }

                    if (TimeSpan.FromSeconds(1) - Stopwatch.GetElapsedTime(askedAt) is { } rest && rest > TimeSpan.Zero)
                    {
                        await Task.Delay(rest, cancellationToken).ConfigureAwait(false);
                    }
                }

                packets = link.Counts;
            }

            var good = Stopwatch.StartNew();
            await CampaignMeetings.AnsweringAsync(_ => Task.FromResult(earbuds), cancellationToken).ConfigureAwait(false);
            var phase = new ImpairedPhase(asked, answered, wills.Count, packets, good.Elapsed);
            acceptedLost += CampaignMeetings.Lost(before, await CampaignMeetings.AcceptedAsync(earbuds, meetings.Sessions, cancellationToken).ConfigureAwait(false));
            progress(string.Create(CultureInfo.InvariantCulture, $"partitions: {settings.ImpairedFor.TotalSeconds:0} s of a {name} link ({impairment}): {packets.Dropped} of {packets.Packets} packets dropped, {packets.Delayed} delayed, {packets.Reordered} reordered; {answered} of {asked} requests answered, {phase.Wills} last wills, answering {phase.Back.TotalSeconds:F2} s after; accepted lost so far {acceptedLost}"));
            return phase;
        }
    }

    /// <summary>Notes the moment of every status the broker publishes for the daemon with "connection lost": its last will.</summary>
    private static async Task WatchWillsAsync(TopicSubscription status, ConcurrentQueue<long> wills, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var message in status.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (message.Deserialize<StatusDocument>() is { Online: false, Reason: "connection lost" })
                {
                    wills.Enqueue(Stopwatch.GetTimestamp());
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The campaign is over.
        }
    }
}
