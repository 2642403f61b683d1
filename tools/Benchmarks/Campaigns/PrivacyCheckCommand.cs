using System.CommandLine;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Campaigns;

/// <summary><c>appliance-bench privacy-check</c>: every feature once, with the daemon in a network namespace that leads only to the broker, under strace; no other address may be reached.</summary>
internal static class PrivacyCheckCommand
{
    public static Command Build(string[] args)
    {
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the forged models, the trace and the daemon's files go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("privacy-check", "Privacy check (needs root for ip netns, and strace): every feature used once with the daemon traced in a network namespace that leads only to the broker; no other connection may be attempted")
        {
            workDir, markdown,
        };
        command.SetAction(async (parse, cancellationToken) => await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-privacy-", async root =>
        {
            var console = AnsiConsole.Console;
            var startedAt = DateTime.UtcNow;
            var report = await PrivacyCheck.RunAsync(root, line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, Rows(report));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Privacy check — every feature once, every socket recorded",
                    startedAt,
                    [
                        "Set-up: the daemon (`dotnet appliance-daemon.dll`, Release build, dev-x64 with forged whisper-tiny as `asr` and a forged tiny R1 as `voiceLlm` and `summaryLlm`) in a network namespace of its own whose one link leads to Mosquitto on the host; `strace -f -e trace=connect,sendto,sendmsg,sendmmsg` records every socket address the daemon and its threads use, from its first instruction",
                        "Run: status, profile, health, the fleet view, model list, unload, load and select, a chat, a transcription, both cancels, a meeting from start through its streamed audio to the stored summary, meeting list, get and delete, and the simulated climate sensor's telemetry",
                        "Check: every feature answers as the contract says, and the trace holds no network address but the broker's and no name lookup handed to a resolver on the device (nscd, systemd-resolved): no telemetry, no update check",
                    ],
                    string.Join(' ', args),
                    Rows(report),
                    "Local uses, when there are any, are listed as the trace shows them: netlink talks to the kernel, Unix sockets stay on the device. The first run of this check found ONNX Runtime's own telemetry client (1DS, in its Linux build) looking up `mobile.events.data.microsoft.com` 20 times and keeping a device id and an event store under `~/.cache/Microsoft/DeveloperTools/.onnxruntime`, although the runtime's telemetry events were turned off; the daemon now sets `ORT_DISABLE_TELEMETRY` in its native environment before the library starts, and the trace shows nothing of it. Over-the-air updates are off in this check (no `Ota:Repository`, the default), so the allowed set is the broker alone; a device with them on also connects to its update repository (see [ota.md](ota.md))."), cancellationToken).ConfigureAwait(false);
            }

            return report.Passed ? 0 : 1;
        }).ConfigureAwait(false));
        return command;
    }

    /// <summary>The report's figures, in words and numbers.</summary>
    internal static IEnumerable<(string Figure, string Value)> Rows(PrivacyReport report)
    {
        yield return ("result", report.Passed ? "passed" : $"FAILED{(report.Failure is { } f ? ": " + f : "")}");
        yield return ("features used", Invariant($"{report.Features.Count(f => f.Outcome.StartsWith("ok", StringComparison.Ordinal))} of {report.Features.Count} as expected"));
        foreach (var (feature, outcome) in report.Features)
        {
            yield return ($"  {feature}", outcome);
        }

        yield return ("allowed", string.Join(", ", report.Allowed));
        foreach (var (use, count) in report.Uses)
        {
            var kind = use.IsNameLookup ? "NAME LOOKUP, NOT ALLOWED" : use.IsNetwork ? report.Allowed.Contains(use.Address) ? "network, allowed" : "NETWORK, NOT ALLOWED" : "local";
            yield return (Invariant($"{use.Call} {use.Family} {use.Address}"), Invariant($"{count} × ({kind})"));
        }

        yield return ("network uses outside the allowed set", Invariant($"{report.Forbidden.Count}"));
    }
}
