using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench full-disk-campaign</c>: fills the meetings' disk again and again under streaming meetings, frees it by deleting a meeting, and checks what the daemon answers and keeps.</summary>
internal static class FullDiskCampaignCommand
{
    public static Command Build(string[] args)
    {
        var rounds = BenchmarkCli.Positive("--rounds", "How many times the disk is filled and freed", 10);
        var disk = BenchmarkCli.Positive("--disk-kib", "Size of the meetings' tmpfs, in KiB", 4096);
        var minFree = BenchmarkCli.Positive("--min-free-kib", "The daemon's Meetings:MinFreeBytes, in KiB", 256);
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's working directory and the tmpfs mount point go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("full-disk-campaign", "Full-disk campaign: meetings fill a small tmpfs under the daemon; new meetings and stops must get storage_full, nothing accepted may be damaged, and deleting a meeting must bring everything back")
        {
            rounds, disk, minFree, workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) => await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-full-disk-", async root =>
        {
            var console = AnsiConsole.Console;
            var settings = new FullDiskSettings(parse.GetValue(rounds), parse.GetValue(disk), parse.GetValue(minFree), root);
            var startedAt = DateTime.UtcNow;
            var report = await FullDiskCampaign.RunAsync(settings, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, Rows(report, settings));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Full-disk campaign — the meetings' disk filled and freed under streaming meetings",
                    startedAt,
                    [
                        Invariant($"Set-up: the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with no speech or language model, embedded broker) with its meetings on a {settings.DiskKib} KiB tmpfs in a mount namespace of its own (`unshare --user --mount`), `Meetings:MinFreeBytes` {settings.MinFreeKib} KiB"),
                        "Each round: two meetings stream 120 ms PCM frames until both have frames refused; then a new meeting is started, one meeting is stopped and health is asked, and both audio journals are read on the daemon's disk; one meeting is deleted; the other gets 20 more frames, a new meeting is started and deleted, and the meeting stops with `lastSequence`, completes, and its journal is read again; it is deleted too",
                        "Check: the start and the stop while full get `storage_full` (the stop leaves the meeting recording), health's `storage` check names the full disk, every journal ends on a whole record and holds exactly the frames the daemon accepted, and after the delete the meeting takes every frame, health is ok, a new meeting starts, and every frame sent is accepted or reported missing",
                    ],
                    string.Join(' ', args),
                    Rows(report, settings),
                    "Frames refused while the disk is full are counted by the daemon (`storageRefusedFrames`) and come back as gaps when the meeting stops; nothing accepted before is touched, because a record is only counted once it is flushed and a failed write is cut back. The full staging area of an update is not part of this campaign; a test covers it (`OtaTests.A_download_into_a_full_staging_area_is_refused_as_storage_full_and_the_daemon_serves_on`)."), cancellationToken).ConfigureAwait(false);
            }

            return report.Passed(settings.Rounds) ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(FullDiskReport report, FullDiskSettings settings)
    {
        var rounds = settings.Rounds;
        yield return ("result", report.Passed(rounds) ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("rounds (disk filled, then freed by a delete)", Invariant($"{report.Rounds}"));
        yield return ("frames sent", Invariant($"{report.FramesSent}"));
        yield return ("frames accepted", Invariant($"{report.FramesAccepted}"));
        yield return ("frames refused while full (counted)", Invariant($"{report.FramesRefused}"));
        yield return ("new meeting while full answered storage_full", Invariant($"{report.StartsRefusedFull} of {rounds}"));
        yield return ("stop while full answered storage_full, meeting still recording", Invariant($"{report.StopsRefusedFull} of {rounds}"));
        yield return ("health named the full disk", Invariant($"{report.HealthSaidFull} of {rounds}"));
        yield return ("journals read on the daemon's disk / damaged or short", Invariant($"{report.JournalsChecked} / {report.JournalsDamaged}"));
        yield return ("after the delete: frames taken, health ok, new meeting started", Invariant($"{report.Recovered} of {rounds}"));
        yield return ("meetings completed with every frame accounted for", Invariant($"{report.Completed} of {rounds}"));
        yield return ("delete to 20 frames taken again: median / max", MedianAndMax(report.Recoveries));
    }
}
