using System.CommandLine;
using System.Text;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench soak</c>: an hour of mixed load on the daemon with tiny models, its resident set, CPU, open files, threads and queues sampled, charted and judged.</summary>
internal static class SoakCommand
{
    public static Command Build(string[] args)
    {
        var minutes = BenchmarkCli.Positive("--minutes", "How long the mixed load runs", 60);
        var warmUp = BenchmarkCli.Positive("--warm-up", "Minutes at the start left out of the growth figures", 10);
        var sample = BenchmarkCli.Positive("--sample", "Seconds between samples", 10);
        var meetingLength = BenchmarkCli.Positive("--meeting-length", "Seconds each meeting streams before it stops", 60);
        var chart = new Option<FileInfo?>("--chart") { Description = "Write the chart (PNG) to this file" };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the forged models and the daemon's files go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var loads = new Option<SoakLoadKind[]>("--loads") { Description = "The kinds of load that run (all by default); one alone tells which one makes the daemon grow", AllowMultipleArgumentsPerToken = true };
        var command = new Command("soak", "Soak: mixed load (meetings to their summaries, chats, voice commands, transcriptions), or the kinds of it chosen, on the daemon with tiny models; RSS must grow under 5 % after the warm-up, open files and threads not at all")
        {
            minutes, warmUp, sample, meetingLength, loads, chart, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(warmUp) >= parse.GetValue(minutes))
            {
                await Console.Error.WriteLineAsync("--warm-up must be shorter than --minutes.").ConfigureAwait(false);
                return 2;
            }

            return await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-soak-", async root =>
            {
                var console = AnsiConsole.Console;
                var settings = new SoakSettings(TimeSpan.FromMinutes(parse.GetValue(minutes)), TimeSpan.FromMinutes(parse.GetValue(warmUp)), TimeSpan.FromSeconds(parse.GetValue(sample)), TimeSpan.FromSeconds(parse.GetValue(meetingLength)), root, parse.GetValue(loads) is { Length: > 0 } chosen ? chosen.ToHashSet() : SoakSettings.AllLoads);
                var startedAt = DateTime.UtcNow;
                var report = await SoakCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
                Print(console, Rows(report));
                if (parse.GetValue(chart) is { } png)
                {
                    SoakChart.Save(report, png.FullName);
                    console.MarkupLineInterpolated($"[grey]soak: chart written to {png.FullName}[/]");
                }

                if (parse.GetValue(markdown) is { } output)
                {
                    var reading = new StringBuilder("The growth figures compare the median of the first tenth of the samples after the warm-up with the median of the last tenth.");
                    if (parse.GetValue(chart) is { } png2)
                    {
                        reading.AppendLine().AppendLine().Append(Invariant($"![Resident set, threads and open files of the daemon over the soak]({png2.Name})"));
                    }

                    await File.WriteAllTextAsync(output.FullName, Markdown(
                        Invariant($"Soak — {(settings.Duration == TimeSpan.FromHours(1) ? "an hour" : $"{settings.Duration.TotalMinutes:0} min")} of {settings.LoadName} on tiny models"),
                        startedAt,
                        [
                            "Set-up: the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with forged whisper-tiny as `asr`, a forged tiny R1 as `voiceLlm` and `summaryLlm`, and the TV's command schema; embedded broker)",
                            Invariant($"Load for {settings.Duration.TotalMinutes:0} min: {string.Join("; ", Enum.GetValues<SoakLoadKind>().Where(settings.Loads.Contains).Select(kind => SoakCampaign.Describe(kind, settings)))}"),
                            Invariant($"Samples every {settings.SampleEvery.TotalSeconds:0} s from /proc (resident set, CPU, open files, threads) and the status document (requests queued, meetings); the first {settings.WarmUp.TotalMinutes:0} min are warm-up"),
                        ],
                        string.Join(' ', args),
                        Rows(report),
                        reading.ToString()), cancellationToken).ConfigureAwait(false);
                }

                return report.Passed ? 0 : 1;
            }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(SoakReport report)
    {
        yield return ("result", report.Passed ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("samples (after the warm-up)", Invariant($"{report.Samples.Count} ({report.Steady.Count})"));
        var (rssFirst, rssLast) = report.Ends(s => s.ResidentMib);
        yield return ("resident set after the warm-up: first / last", Invariant($"{rssFirst:0.0} MiB / {rssLast:0.0} MiB ({report.ResidentGrowthPercent:+0.0;-0.0;0.0} %, goal under +5 %)"));
        var (filesFirst, filesLast) = report.Ends(s => s.OpenFiles);
        yield return ("open files after the warm-up, assembly images left out: first / last", Invariant($"{filesFirst:0} / {filesLast:0}"));
        var (assembliesFirst, assembliesLast) = report.Ends(s => s.AssemblyImages);
        yield return ("assembly images open after the warm-up: first / last", Invariant($"{assembliesFirst:0} / {assembliesLast:0}"));
        if (report.FilesOpenedAfterWarmUp.Count > 0)
        {
            yield return ("opened after the warm-up and open at the end", string.Join(", ", report.FilesOpenedAfterWarmUp));
        }
        var (threadsFirst, threadsLast) = report.Ends(s => s.Threads);
        yield return ("threads after the warm-up: first / last", Invariant($"{threadsFirst:0} / {threadsLast:0}"));
        var steady = report.Steady;
        if (steady.Count > 0)
        {
            yield return ("CPU after the warm-up: mean / max", Invariant($"{steady.Average(s => s.CpuPercent):0} % / {steady.Max(s => s.CpuPercent):0} % of one core"));
            yield return ("requests queued: max", Invariant($"{steady.Max(s => s.RpcQueued)}"));
        }

        yield return ("warnings and errors the daemon logged", report.DaemonProblems.Count == 0 ? "none" : Invariant($"{report.DaemonProblems.Count}, the first: {string.Join(" | ", report.DaemonProblems.First)}"));
        foreach (var load in report.Loads)
        {
            yield return (load.Name, Invariant($"{load.Done} done, {load.Failed} failed{(load.Failures.Count > 0 ? " (" + string.Join("; ", load.Failures) + ")" : "")}"));
        }
    }
}
