using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench kill-campaign</c>: SIGKILLs a daemon that meetings stream into, again and again, and checks that nothing it accepted is lost.</summary>
internal static class KillCampaignCommand
{
    public static Command Build(string[] args)
    {
        var kills = BenchmarkCli.Positive("--kills", "How many times the daemon is killed", 100);
        var meetings = BenchmarkCli.Positive("--meetings", "Meetings streaming in real time throughout", 4);
        var minRun = new Option<double>("--min-run") { Description = "Shortest run before a kill, in seconds", DefaultValueFactory = _ => 0.5 };
        var maxRun = new Option<double>("--max-run") { Description = "Longest run before a kill, in seconds (each kill at a random moment between the two)", DefaultValueFactory = _ => 3 };
        var seed = new Option<int>("--seed") { Description = "Seed of the kill moments", DefaultValueFactory = _ => 1 };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's journals go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("kill-campaign", "SIGKILL campaign: meetings stream into a daemon on Mosquitto, which is killed at random moments and restarted; no accepted frame may be lost")
        {
            kills, meetings, minRun, maxRun, seed, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (min, max) = (parse.GetValue(minRun), parse.GetValue(maxRun));
            if (!(min > 0 && max >= min))
            {
                await Console.Error.WriteLineAsync("--min-run must be above 0 and --max-run at least --min-run.").ConfigureAwait(false);
                return 2;
            }

            return await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-kill-campaign-", async root =>
            {
                var console = AnsiConsole.Console;
                var settings = new KillSettings(parse.GetValue(kills), parse.GetValue(meetings), TimeSpan.FromSeconds(min), TimeSpan.FromSeconds(max), parse.GetValue(seed), root);
                var startedAt = DateTime.UtcNow;
                var report = await KillCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
                Print(console, Rows(report, settings));
                if (parse.GetValue(markdown) is { } output)
                {
                    await File.WriteAllTextAsync(output.FullName, Markdown(
                        "SIGKILL campaign — meetings streaming into a daemon on Mosquitto",
                        startedAt,
                        [
                            Invariant($"Set-up: Mosquitto on loopback; the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with no speech or language model) on it; {settings.Meetings} meetings streaming 16 kHz PCM in 20 ms frames in real time throughout"),
                            Invariant($"Fault: SIGKILL at a random moment {settings.MinRun.TotalSeconds:0.#}–{settings.MaxRun.TotalSeconds:0.#} s after the daemon is ready (seed {settings.Seed}), then a restart on the same journals; before each kill every meeting's accepted count is read, after the restart it must be at least that; at the end every meeting stops with `lastSequence` and must complete"),
                        ],
                        string.Join(' ', args),
                        Rows(report, settings),
                        "Frames sent while the daemon was down are dropped by the broker (the daemon's session is clean) and come back as gaps when the meeting stops; every frame sent is either accepted or reported missing. A torn tail is a journal record a kill cut short; it held no accepted frame and is dropped at restart. Recovery runs from the kill to the restarted daemon's ready line, process start included."), cancellationToken).ConfigureAwait(false);
                }

                return report.Passed(settings.Meetings) ? 0 : 1;
            }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(KillReport report, KillSettings settings)
    {
        yield return ("result", report.Passed(settings.Meetings) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("kills (SIGKILL)", Invariant($"{report.Kills}"));
        yield return ("frames sent", Invariant($"{report.FramesSent}"));
        yield return ("frames accepted", Invariant($"{report.FramesAccepted}"));
        yield return ("frames reported missing (sent while the daemon was down)", Invariant($"{report.GapFrames}"));
        yield return ("accepted frames lost", Invariant($"{report.AcceptedLost}"));
        yield return ("torn journal tails dropped at restart", Invariant($"{report.TornTails}"));
        yield return ("corrupt journals", Invariant($"{report.CorruptRecords}"));
        yield return ("meetings completed", Invariant($"{report.Completed} of {settings.Meetings}"));
        yield return ("recovery, kill to ready: median / max", MedianAndMax(report.Recoveries));
    }
}
