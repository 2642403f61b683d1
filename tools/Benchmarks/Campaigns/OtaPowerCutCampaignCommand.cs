using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench ota-power-cut-campaign</c>: SIGKILLs a daemon in the middle of model updates, again and again, and checks it always comes back on a working model set.</summary>
internal static class OtaPowerCutCampaignCommand
{
    public static Command Build(string[] args)
    {
        var cycles = BenchmarkCli.Positive("--cycles", "Updates started, each cut by a SIGKILL", 1000);
        var truncate = new Option<double>("--truncate-share") { Description = "Share of kills after which the file written last is also cut at a random length (0–1)", DefaultValueFactory = _ => 0.3 };
        var rate = new Option<double>("--mirror-kib-per-second") { Description = "The repository server's rate for model files, in KiB/s", DefaultValueFactory = _ => 256 };
        var seed = new Option<int>("--seed") { Description = "Seed of the kill moments and truncations", DefaultValueFactory = _ => 1 };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the models, the repository and the daemon's folders go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("ota-power-cut-campaign", "OTA power cuts: a daemon updates its voice model from a local signed repository and is killed in a random stage of each update (download, install, smoke test, switch, health window), sometimes with the last file written cut short; it must always restart on a working, verified model set")
        {
            cycles, truncate, rate, seed, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(truncate) is < 0 or > 1 || parse.GetValue(rate) <= 0)
            {
                await Console.Error.WriteLineAsync("--mirror-kib-per-second must be above 0, --truncate-share between 0 and 1.").ConfigureAwait(false);
                return 2;
            }

            return await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-ota-power-cuts-", async root =>
            {
                var console = AnsiConsole.Console;
                var settings = new OtaPowerCutSettings(parse.GetValue(cycles), parse.GetValue(truncate), parse.GetValue(rate) * 1024, parse.GetValue(seed), root);
                var startedAt = DateTime.UtcNow;
                var report = await OtaPowerCutCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
                Print(console, Rows(report, settings));
                if (parse.GetValue(markdown) is { } output)
                {
                    await File.WriteAllTextAsync(output.FullName, Markdown(
                        "OTA power cuts — SIGKILL during model updates",
                        startedAt,
                        [
                            Invariant($"Set-up: the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with a forged tiny R1 as its voice model, embedded broker) updating that model from a local signed repository (`appliance-ota serve`'s server, model files at {settings.MirrorBytesPerSecond / 1024:0} KiB/s); every cycle publishes a newer release of the model (two forged variants in turn) and starts `ota.update`"),
                            Invariant($"Fault: each update's SIGKILL is aimed at a stage chosen at random (seed {settings.Seed}) — the download (anywhere in its first second), the install, the smoke test, the switch (within 30 ms of the stage's log line), or the health window after the switch's restart (within a second of ready; a daemon that switched and exited is restarted first, as the service manager would); after {settings.TruncateShare:P0} of the kills the file written last under the OTA folder is cut at a random length. Then a restart, and the check: the voice model loaded and `llm.chat` answered"),
                        ],
                        string.Join(' ', args),
                        Rows(report, settings),
                        "A kill stage is the last update stage the daemon logged before the kill; `restarted` means after the switch's restart, in the health window. A cut file is whatever was written last: a partial download, a file of the inactive slot, or the slot state (which is written twice, so one copy survives). Rollbacks at start are switches the daemon undid by itself before loading a model: a damaged active slot or a crash loop in the health window."), cancellationToken).ConfigureAwait(false);
                }

                return report.Passed(settings.Cycles) ? 0 : 1;
            }).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(OtaPowerCutReport report, OtaPowerCutSettings settings)
    {
        yield return ("result", report.Passed(settings.Cycles) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("updates cut by SIGKILL", Invariant($"{report.Cycles}"));
        yield return ("kills by stage", string.Join(", ", report.KillsByStage.Select(s => Invariant($"{s.Key} {s.Value}"))));
        yield return ("files cut short after a kill", Invariant($"{report.Truncations}"));
        yield return ("restarts without a working, verified model set", Invariant($"{report.Unusable}"));
        yield return ("rollbacks at start (damaged slot or crash loop)", Invariant($"{report.Rollbacks}"));
        yield return ("restarts inside a health window (passed by the check's request)", Invariant($"{report.InHealthWindow}"));
        yield return ("recovery, kill to ready: median / max", MedianAndMax(report.Recoveries));
    }
}
