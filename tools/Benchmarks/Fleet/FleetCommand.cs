using System.CommandLine;
using System.Globalization;
using System.Text;
using Appliance.Benchmarks.Meetings;
using Appliance.Benchmarks.Speech;
using Spectre.Console;

namespace Appliance.Benchmarks.Fleet;

/// <summary>
/// <c>appliance-bench fleet</c>: 1, 2 and 3 hubs in one fleet group on one Mosquitto, side by side: stateless requests
/// per second on the fleet topic and meeting streams placed across the group, with every frame accounted for.
/// </summary>
internal static class FleetCommand
{
    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var shared = Path.Combine(BenchmarkCli.RepositoryRoot(), "..", "shared");
        var hubs = new Option<string>("--hubs") { Description = "Fleet sizes to run, comma-separated", DefaultValueFactory = _ => "1,2,3" };
        hubs.Validators.Add(result =>
        {
            if (MeetingsCommand.ParseCounts(result.GetValueOrDefault<string>()) is null)
            {
                result.AddError("--hubs takes positive whole numbers separated by commas, such as 1,2,3");
            }
        });
        var streams = BenchmarkCli.Positive("--streams", "Meeting streams placed across the fleet, for each size", 96);
        var seconds = BenchmarkCli.Positive("--seconds", "Audio each stream sends, in real time", 20);
        var requests = BenchmarkCli.Positive("--requests", "asr.transcribe requests on the fleet topic, for each size", 12);
        var concurrency = BenchmarkCli.Positive("--concurrency", "Requests in flight at once", 4);
        var clipSeconds = BenchmarkCli.Positive("--clip-seconds", "Audio in each request, in seconds", 2);
        var audio = new Option<FileInfo?>("--audio") { Description = "Recording to stream and transcribe (default: ../shared/audio/tedlium_long_120s.wav; without it, speech made with espeak-ng)" };
        var vad = new Option<FileInfo>("--vad")
        {
            Description = "Silero VAD graph for the hubs (default: ../shared/models/silero-vad/silero_vad.onnx; when missing the hubs use their energy detector)",
            DefaultValueFactory = _ => new FileInfo(Path.Combine(shared, "models", "silero-vad", "silero_vad.onnx")),
        };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the hubs' working directories go; default: the system temporary folder" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };

        var fleet = new Command("fleet", "1, 2 and 3 hubs in one fleet group on one Mosquitto: asr.transcribe requests per second on the fleet topic and meeting streams placed across the group")
        {
            hubs, streams, seconds, requests, concurrency, clipSeconds, audio, vad, workDir, models, markdown,
        };
        fleet.SetAction(async (parse, cancellationToken) =>
        {
            return await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-bench-fleet-", async root =>
            {
                var console = AnsiConsole.Console;
                console.Profile.Width = Math.Max(console.Profile.Width, 160);
                void Progress(string line) => console.MarkupLineInterpolated($"[grey]{line}[/]");
                var recording = MeetingAudio.Load(parse.GetValue(audio), root, out var audioProblem);
                if (recording is null)
                {
                    await Console.Error.WriteLineAsync(audioProblem).ConfigureAwait(false);
                    return 2;
                }

                var vadFile = parse.GetValue(vad)!;
                var whisper = SpeechBench.ForgedWhisperBase(parse.GetValue(models)!.FullName, SummarySettings.Seed, Progress, SummarySettings.EndOfTextBiasDefault);
                var settings = new FleetSettings(
                    MeetingsCommand.ParseCounts(parse.GetValue(hubs))!,
                    parse.GetValue(streams),
                    parse.GetValue(seconds),
                    parse.GetValue(requests),
                    parse.GetValue(concurrency),
                    parse.GetValue(clipSeconds),
                    whisper,
                    vadFile.Exists ? vadFile.FullName : null,
                    root);
                var startedAt = DateTime.UtcNow;
                var loadBefore = MachineInfo.LoadAverage();
                var report = await FleetBenchmark.RunAsync(settings, recording, Progress, cancellationToken).ConfigureAwait(false);
                console.Write(Table(report));
                console.MarkupLineInterpolated($"[bold]{Headline(report)}[/]");
                foreach (var step in report.Steps.Where(s => s.Failure is not null))
                {
                    console.MarkupLineInterpolated($"[red]{step.Hubs} hub(s): {step.Failure}[/]");
                }

                if (parse.GetValue(markdown) is { } output)
                {
                    await File.WriteAllTextAsync(output.FullName, Markdown(report, string.Join(' ', args), recording, startedAt, loadBefore, MachineInfo.LoadAverage()), cancellationToken).ConfigureAwait(false);
                }

                return report.Steps.Any(s => s.Failure is not null || s.FramesLost != 0) ? 1 : 0;
            }).ConfigureAwait(false);
        });
        return fleet;
    }

    private static Table Table(FleetReport report)
    {
        var table = new Table().AddColumns("hubs", "requests/s", "× 1 hub", "served by", "streams placed", "refused busy", "frames sent", "lost", "hubs CPU", "broker CPU", "send lag p99");
        foreach (var step in report.Steps)
        {
            table.AddRow([.. Cells(report, step).Select(c => Markup.Escape(c))]);
        }

        return table;
    }

    private static IEnumerable<string> Cells(FleetReport report, FleetStep step)
    {
        var baseline = report.Steps.FirstOrDefault(s => s.Hubs == 1 && s.Failure is null)?.RequestsPerSecond;
        yield return Invariant($"{step.Hubs}");
        yield return Invariant($"{step.RequestsPerSecond:F2}");
        yield return baseline is > 0 ? Invariant($"{step.RequestsPerSecond / baseline:F2}") : "-";
        yield return string.Join(", ", step.RequestsPerHub.Select(p => Invariant($"{p.Key} {p.Value}")));
        yield return string.Join(", ", step.StreamsPlaced.Select(p => Invariant($"{p.Key} {p.Value}")));
        yield return Invariant($"{step.StreamsRefused}");
        yield return Invariant($"{step.FramesSent}");
        yield return Invariant($"{step.FramesLost}");
        yield return Invariant($"{step.HubsCpuPercent:F0} %");
        yield return Invariant($"{step.BrokerCpuPercent:F0} %");
        yield return Invariant($"{step.SendLagP99.TotalMilliseconds:F1} ms");
    }

    private static string Headline(FleetReport report)
    {
        var parts = report.Steps.Where(s => s.Failure is null).Select(s => Invariant($"{s.Hubs} hub(s): {s.RequestsPerSecond:F2} requests/s, {s.StreamsPlaced.Values.Sum()} streams placed, {s.FramesLost} frames lost"));
        return string.Join("; ", parts);
    }

    private static string Markdown(FleetReport report, string command, MeetingAudio audio, DateTime startedAt, string loadBefore, string loadAfter)
    {
        var machine = MachineInfo.Read();
        var s = report.Settings;
        var text = new StringBuilder();
        text.AppendLine("## Fleet — 1, 2 and 3 hubs on one Mosquitto, side by side");
        text.AppendLine();
        text.AppendLine(Invariant($"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC"));
        text.AppendLine(Invariant($"- Machine: {machine}"));
        text.AppendLine(Invariant($"- Load average (1/5/15 min) before the run: {loadBefore}; after: {loadAfter}"));
        text.AppendLine(Invariant($"- Broker: {report.Broker} on loopback (anonymous, no persistence); hubs: `dotnet appliance-daemon.dll` (Release build), each its own process with `Fleet:Group=bench`, all on this machine"));
        text.AppendLine(Invariant($"- Hub profile: dev-x64 with forged whisper-base as `asr` (seed {SummarySettings.Seed}, end-of-text bias {SummarySettings.EndOfTextBiasDefault}), no language model, `meetings.capacity` 192; VAD: {report.Vad}"));
        text.AppendLine(Invariant($"- Requests: {s.Requests} `asr.transcribe` of the first {s.ClipSeconds:0.#} s of {audio.Source} on `appliance/v1/fleet/bench/rpc/asr.transcribe`, {s.Concurrency} in flight, after one unmeasured request per hub"));
        text.AppendLine(Invariant($"- Streams: {s.Streams} meetings started with `StartMeetingInFleetAsync` (placement by the broker's shared subscription), each its own MQTT connection, 20 ms Opus frames in real time for {s.Seconds} s, stopped on the hub that took it with `lastSequence`; accepted frames from each hub's `meetings.get`"));
        text.AppendLine(Invariant($"- Command: `appliance-bench {command}`"));
        text.AppendLine(Invariant($"- **{Headline(report)}**"));
        text.AppendLine();
        text.AppendLine("| hubs | requests/s | × 1 hub | served by | streams placed | refused busy | frames sent | lost | hubs CPU | broker CPU | send lag p99 |");
        text.AppendLine("| ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var step in report.Steps)
        {
            text.AppendLine("| " + string.Join(" | ", Cells(report, step)) + " |");
        }

        text.AppendLine();
        text.AppendLine("CPU is percent of one core over the streaming time, from `/proc/PID/stat` (hubs summed). The hubs share this machine's cores, so more hubs here add no compute: the figures show the fleet's cost (broker, placement, replies) against one hub, not the gain of hubs on boards of their own.");
        foreach (var step in report.Steps.Where(x => x.Failure is not null))
        {
            text.AppendLine(Invariant($"{step.Hubs} hub(s) did not complete: {step.Failure}"));
        }

        if (report.DaemonProblems.Count > 0)
        {
            text.AppendLine(Invariant($"The hubs logged {report.DaemonProblems.Count} warning or error line(s); the first: {report.DaemonProblems[0]}"));
        }

        return text.ToString();
    }

    private static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
