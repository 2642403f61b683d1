using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench torn-write-campaign</c>: kills a daemon that meetings stream into, damages the tail of a file of every meeting while it is down, and checks what the restart keeps.</summary>
internal static class TornWriteCampaignCommand
{
    public static Command Build(string[] args)
    {
        var rounds = BenchmarkCli.Positive("--rounds", "How many times the daemon is killed and a file of every meeting damaged", 100);
        var meetings = BenchmarkCli.Positive("--meetings", "Meetings streaming in real time between the faults", 4);
        var tail = BenchmarkCli.Positive("--tail-bytes", "The damage starts within this many bytes of a file's end", 16 * 1024);
        var seed = new Option<int>("--seed") { Description = "Seed of the kill moments and of the damage", DefaultValueFactory = _ => 1 };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's journals go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("torn-write-campaign", "Torn-write campaign: after each kill, the tail of a journal or state file of every meeting is cut or overwritten at a random offset; the restart must keep every record before the damage, drop the rest and log it")
        {
            rounds, meetings, tail, seed, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) => await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-torn-write-", async root =>
        {
            var console = AnsiConsole.Console;
            var settings = new TornWriteSettings(parse.GetValue(rounds), parse.GetValue(meetings), TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(2), parse.GetValue(tail), parse.GetValue(seed), root);
            var startedAt = DateTime.UtcNow;
            var report = await TornWriteCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, Rows(report, settings));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Torn-write campaign — damaged journal and state files after a kill",
                    startedAt,
                    [
                        Invariant($"Set-up: Mosquitto on loopback; the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with no speech or language model) on it; {settings.Meetings} meetings streaming 16 kHz PCM in 20 ms frames in real time while the daemon runs"),
                        Invariant($"Fault: SIGKILL {settings.MinRun.TotalSeconds:0.#}–{settings.MaxRun.TotalSeconds:0.#} s after the daemon is ready (seed {settings.Seed}); while it is down, one file of every meeting (audio journal, transcript journal, `state.json` or its mirror `state.copy.json`, picked at random) is cut at, or overwritten with up to 512 bytes of garbage from, a random offset within its last {settings.TailBytes} bytes; then a restart on the damaged files"),
                        "Check: the campaign reads each audio journal itself before the damage; after the restart every meeting must have kept exactly the records that lie wholly before it, and the daemon must have logged every damage the format can detect; at the end every meeting stops with `lastSequence` and must complete",
                    ],
                    string.Join(' ', args),
                    Rows(report, settings),
                    "Records after the damage are dropped at the restart and come back as gaps when the meeting stops, with the frames sent while the daemon was down; every frame sent is accepted or reported missing. A journal cut exactly at a record's end reads as a shorter journal and is the one damage that cannot be detected; its dropped records are still gaps. A damaged copy of the state is restored from the other copy. With no speech model in the profile the transcript journal holds only its 8-byte header, so its damage always hits the header."), cancellationToken).ConfigureAwait(false);
            }

            return report.Passed(settings.Meetings) ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(TornWriteReport report, TornWriteSettings settings)
    {
        yield return ("result", report.Passed(settings.Meetings) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("rounds (SIGKILL, then damage)", Invariant($"{report.Rounds}"));
        yield return ("files damaged: audio journal / transcript journal / state.json / state.copy.json", string.Join(" / ", report.Damaged.Values.Select(v => Invariant($"{v}"))));
        yield return ("audio records after the damage, dropped at restart", Invariant($"{report.RecordsDropped}"));
        yield return ("records before the damage lost", Invariant($"{report.RecordsLost}"));
        yield return ("damaged records kept", Invariant($"{report.DamagedKept}"));
        yield return ("detectable damage not logged", Invariant($"{report.Unreported}"));
        yield return ("state copies restored from the other copy", Invariant($"{report.StateRestored}"));
        yield return ("frames sent", Invariant($"{report.FramesSent}"));
        yield return ("frames accepted", Invariant($"{report.FramesAccepted}"));
        yield return ("frames reported missing (daemon down, or cut with a damaged tail)", Invariant($"{report.GapFrames}"));
        yield return ("meetings completed", Invariant($"{report.Completed} of {settings.Meetings}"));
        yield return ("restart to ready: median / max", MedianAndMax(report.Recoveries));
    }
}
