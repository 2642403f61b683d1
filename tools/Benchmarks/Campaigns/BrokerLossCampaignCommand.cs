using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench broker-loss-campaign</c>: stops and starts the broker under a daemon that meetings stream into, and checks that it comes back and keeps what it accepted.</summary>
internal static class BrokerLossCampaignCommand
{
    public static Command Build(string[] args)
    {
        var outages = BenchmarkCli.Positive("--outages", "How many times the broker is stopped and started again", 10);
        var meetings = BenchmarkCli.Positive("--meetings", "Meetings streaming in real time throughout", 4);
        var seed = new Option<int>("--seed") { Description = "Seed of the outage moments and lengths", DefaultValueFactory = _ => 1 };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's journals go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("broker-loss-campaign", "Broker-loss campaign: the external Mosquitto is killed and started again while meetings stream; the daemon must reconnect, keep every accepted frame and report the rest as gaps")
        {
            outages, meetings, seed, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) => await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-broker-loss-", async root =>
        {
            var console = AnsiConsole.Console;
            // Runs outlast the daemon's 10 s "stable connection", after which its back-off starts again from 500 ms: a broker
            // that drops every few seconds is met with a growing back-off on purpose.
            var settings = new BrokerLossSettings(parse.GetValue(outages), parse.GetValue(meetings), TimeSpan.FromSeconds(11), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(5), parse.GetValue(seed), root);
            var startedAt = DateTime.UtcNow;
            var report = await BrokerLossCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, Rows(report, settings));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Broker-loss campaign — the external Mosquitto stopped and started again under streaming meetings",
                    startedAt,
                    [
                        Invariant($"Set-up: Mosquitto on loopback (no persistence); the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with no speech or language model, its shipped reconnect back-off) on it; {settings.Meetings} meetings streaming 16 kHz PCM in 20 ms frames in real time throughout, from a client that connects again as an app does"),
                        Invariant($"Fault: the broker is killed {settings.MinRun.TotalSeconds:0.#}–{settings.MaxRun.TotalSeconds:0.#} s into each run, stays down {settings.MinDown.TotalSeconds:0.#}–{settings.MaxDown.TotalSeconds:0.#} s and starts again on its port (seed {settings.Seed}); before each outage every meeting's accepted count is read, after it the daemon must answer `health.get` and hold at least that; at the end every meeting stops with `lastSequence` and must complete"),
                    ],
                    string.Join(' ', args),
                    Rows(report, settings),
                    "Frames sent while the broker (or the client's connection) was down never reach the daemon and come back as gaps when the meeting stops: every frame sent is either accepted or reported missing. Reconnect runs from the broker's start to the daemon answering a request again, so it includes the daemon's back-off (500 ms doubling, with ±20 % jitter, from the start again once a connection held 10 s) and its subscriptions."), cancellationToken).ConfigureAwait(false);
            }

            return report.Passed(settings.Meetings) ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(BrokerLossReport report, BrokerLossSettings settings)
    {
        yield return ("result", report.Passed(settings.Meetings) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("broker outages", Invariant($"{report.Outages}"));
        yield return ("frames sent", Invariant($"{report.FramesSent}"));
        yield return ("frames accepted", Invariant($"{report.FramesAccepted}"));
        yield return ("frames reported missing (sent while the broker was down)", Invariant($"{report.GapFrames}"));
        yield return ("accepted frames lost", Invariant($"{report.AcceptedLost}"));
        yield return ("meetings completed", Invariant($"{report.Completed} of {settings.Meetings}"));
        yield return ("reconnect, broker up to daemon answering: median / max", MedianAndMax(report.Reconnects));
    }
}
