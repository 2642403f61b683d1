using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench partition-campaign</c>: cuts the link of a daemon in its own network namespace, short and long, while meetings stream; checks the keep-alive, the last will and what the daemon keeps.</summary>
internal static class PartitionCampaignCommand
{
    public static Command Build(string[] args)
    {
        var cuts = BenchmarkCli.Positive("--cuts", "How many times the link is cut (odd cuts short, even ones long)", 10);
        var meetings = BenchmarkCli.Positive("--meetings", "Meetings streaming in real time throughout", 4);
        var keepAlive = BenchmarkCli.Positive("--keep-alive", "The daemon's Mqtt:KeepAliveSeconds for the run", 4);
        var impairedFor = BenchmarkCli.Positive("--impaired-seconds", "Seconds the link then loses packets (the lossy link), and then as many seconds it also delays and reorders them (the bad link)", 30);
        var bad = LinkImpairment.Bad(seed: 1);
        var loss = BenchmarkCli.Percent("--loss", "Percent of packets the bad link drops, each way", (int)Math.Round(bad.Loss * 100));
        var delay = BenchmarkCli.NonNegative("--delay", "Milliseconds the bad link holds each packet it neither drops nor reorders, each way", (int)bad.Delay.TotalMilliseconds);
        var reorder = BenchmarkCli.Percent("--reorder", "Percent of the packets not dropped that the bad link lets through at once, ahead of the held ones", (int)Math.Round(bad.Reorder * 100));
        var seed = new Option<int>("--seed") { Description = "Seed of the cut moments and lengths", DefaultValueFactory = _ => 1 };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's journals go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("partition-campaign", "Partition campaign (needs root for ip netns): the daemon's link is cut, short and long, while meetings stream; short cuts keep its session, long ones give its last will, and it keeps every accepted frame")
        {
            cuts, meetings, keepAlive, impairedFor, loss, delay, reorder, seed, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) => await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-partition-", async root =>
        {
            var console = AnsiConsole.Console;
            var impairment = new LinkImpairment(parse.GetValue(loss) / 100.0, TimeSpan.FromMilliseconds(parse.GetValue(delay)), parse.GetValue(reorder) / 100.0, parse.GetValue(seed));
            var settings = new PartitionSettings(parse.GetValue(cuts), parse.GetValue(meetings), parse.GetValue(keepAlive), parse.GetValue(seed), root, TimeSpan.FromSeconds(parse.GetValue(impairedFor)), impairment);
            var startedAt = DateTime.UtcNow;
            var report = await PartitionCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, Rows(report, settings));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Partition campaign — the daemon's link cut while meetings stream",
                    startedAt,
                    [
                        Invariant($"Set-up: the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with no speech or language model, `Mqtt:KeepAliveSeconds` {settings.KeepAliveSeconds}, its shipped reconnect back-off) in a network namespace of its own (`ip netns`), joined by one veth link to Mosquitto on the host; {settings.Meetings} meetings streaming 16 kHz PCM in 20 ms frames in real time from the host over loopback"),
                        Invariant($"Fault: the link's host end is taken down 11–13 s into each run (seed {settings.Seed}): packets vanish without a reset; odd cuts last {settings.ShortCut.Min.TotalSeconds:0.#}–{settings.ShortCut.Max.TotalSeconds:0.#} s (under the keep-alive), even ones {settings.LongCut.Min.TotalSeconds:0.#}–{settings.LongCut.Max.TotalSeconds:0.#} s (past 1.5 × keep-alive, {settings.WillAfter.TotalSeconds:0.#} s); then the link comes back"),
                        Invariant($"Then a lossy link and a bad one, {settings.ImpairedFor.TotalSeconds:0} s each: every packet in or out of the daemon's namespace goes through a netfilter queue (iptables `NFQUEUE`) to the campaign, which drops it, holds it or lets it through at once, each way (seed {settings.Seed}), as `tc netem loss … delay … reorder …` would; the lossy link: {settings.LossyLink}; the bad link: {settings.BadLink}; meanwhile the meetings stream and `health.get` is asked once a second with a 5 s time-out"),
                        "Check: a short cut must not end the daemon's session (no last will); a long one must make the broker publish its last will (`online: false`, `connection lost`), and the daemon must answer `health.get` again after the link returns; the lossy link must end no session and have every request answered; after the bad link (whose round trip, twice its delay, and losses can keep the daemon silent past 1.5 × keep-alive) the daemon must answer again; before each fault every meeting's accepted count is read, after it it must be at least that; at the end every meeting stops with `lastSequence` and must complete",
                    ],
                    string.Join(' ', args),
                    Rows(report, settings),
                    "Frames the broker could not hand over while the link was down are dropped and come back as gaps when the meeting stops; every frame sent is accepted or reported missing. The last will comes when the broker has heard nothing from the daemon for 1.5 × keep-alive, as MQTT specifies, and Mosquitto 2.0 looks at keep-alives only every 5 s or so, in whole seconds: the deadline is 1.5 × keep-alive + 7 s from the cut. The impaired links are made in user space because the kernel of the machine it ran on has no `sch_netem`."), cancellationToken).ConfigureAwait(false);
            }

            return report.Passed(settings.Meetings) ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(PartitionReport report, PartitionSettings settings)
    {
        yield return ("result", report.Passed(settings.Meetings) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("cuts: short / long", Invariant($"{report.ShortCuts} / {report.LongCuts}"));
        yield return (Invariant($"last will on a long cut, within {settings.WillDeadline.TotalSeconds:0.#} s"), Invariant($"{report.WillsOnLongCuts} of {report.LongCuts}"));
        yield return ("last will on a short cut", Invariant($"{report.WillsOnShortCuts} of {report.ShortCuts}"));
        yield return (Invariant($"cut to last will: median / max (1.5 × keep-alive = {settings.WillAfter.TotalSeconds:0.#} s)"), MedianAndMax(report.WillDelays));
        yield return ("link back to daemon answering: median / max", MedianAndMax(report.Reconnects));
        foreach (var (name, impairment, phase) in new[] { ("lossy", settings.LossyLink, report.LossyLink), ("bad", settings.BadLink, report.BadLink) })
        {
            yield return (Invariant($"{name} link ({impairment}, each way): packets dropped / delayed / reordered"), Invariant($"{phase.Packets.Dropped} / {phase.Packets.Delayed} / {phase.Packets.Reordered} of {phase.Packets.Packets}"));
            yield return (Invariant($"{name} link: requests answered within 5 s"), Invariant($"{phase.Answered} of {phase.Requests}"));
            yield return (Invariant($"{name} link: last wills"), Invariant($"{phase.Wills}"));
            yield return (Invariant($"{name} link: good again to daemon answering"), Invariant($"{phase.Back.TotalSeconds:F2} s"));
        }

        yield return ("frames sent", Invariant($"{report.FramesSent}"));
        yield return ("frames accepted", Invariant($"{report.FramesAccepted}"));
        yield return ("frames reported missing", Invariant($"{report.GapFrames}"));
        yield return ("accepted frames lost", Invariant($"{report.AcceptedLost}"));
        yield return ("meetings completed", Invariant($"{report.Completed} of {settings.Meetings}"));
    }
}
