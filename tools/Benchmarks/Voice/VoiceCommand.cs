using System.CommandLine;
using Appliance.ModelForge.Llm;
using Spectre.Console;
using Appliance.Benchmarks.Meetings;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Voice;

/// <summary>
/// <c>appliance-bench voice</c>: the template path, the voice model's first token with and without the reused
/// instructions (and a 300-token prefix), the pipeline's overhead, and a spoken command from the end of its speech to its
/// intent through the daemon.
/// </summary>
internal static class VoiceCommand
{
    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var preset = new Option<string>("--preset") { Description = "Shapes of the forged voice model", DefaultValueFactory = _ => LlmPreset.Qwen25Instruct05B.Name };
        preset.AcceptOnlyFromAmong([.. LlmPreset.All.Select(p => p.Name)]);
        var threads = BenchmarkCli.Positive("--threads", "ONNX Runtime intra-op threads", 2);
        var runs = BenchmarkCli.Positive("--runs", "Measured utterances per figure (medians are reported)", 8);
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var workDir = new Option<DirectoryInfo?>("--work-dir") { Description = "Where the daemon's profile and files go; default: the system temporary folder" };
        var command = new Command("voice", "Voice commands: the template path, the voice model's first token with and without its reused instructions, the pipeline's own overhead, and end of speech to intent through the daemon")
        {
            preset, threads, runs, models, markdown, workDir,
        };
        command.SetAction((parse, cancellationToken) => WorkFolder.RunAsync(parse.GetValue(workDir), "appliance-voice-", async root =>
        {
            LlmPreset.TryGet(parse.GetValue(preset)!, out var chosen);
            var console = AnsiConsole.Console;
            var startedAt = DateTime.UtcNow;
            var report = await VoiceBenchmark.RunAsync(chosen!, 42, parse.GetValue(models)!.FullName, root, parse.GetValue(threads), parse.GetValue(runs), line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            Print(console, VoiceBenchmark.Rows(report));
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "Voice commands — template path, reused instructions, pipeline overhead",
                    startedAt,
                    [
                        Invariant($"Set-up: in process, the TV profile's command schema; the voice model forged with the {report.Preset} shapes (random weights, int4), {report.Threads} threads, greedy, answers constrained to the schema"),
                        Invariant($"Template path: the ten TV commands, each interpreted {Math.Max(report.Runs, 20) - 1} times after a warm-up round; voice model: {report.Runs} utterances no template takes"),
                    ],
                    string.Join(' ', args),
                    VoiceBenchmark.Rows(report),
                    "The template path is the whole cost of a command a template takes, after ASR. The first token without reuse processes the instructions and the utterance; with reuse, the service rewinds the kept generator to the instructions and processes the utterance alone; the short prefix is the instructions cut to about 300 tokens, cached under a key of its own. The pipeline overhead is the median, over the utterances, of the whole LLM path (interpretation, model request through the chat client, parsing, the schema check) less the same utterance's bare model request just before it, both with the cache. The forged tokenizer has few merges, so the instructions take more tokens than with the real Qwen tokenizer; the speed-up grows with the prefix. " +
                    Invariant($"End of speech to intent: the daemon as its own process (embedded broker, loopback), whisper-base shapes forged with an end-of-text bias of {SummarySettings.EndOfTextBiasDefault} (about as much text as a speaker says), the same voice model, the TV's schema; \"{report.Spoken.Phrase}\" said by espeak-ng ({report.Spoken.ClipSeconds:0.0} s) sent as voice.audio, as the end-pointer hands an utterance over, and timed to the intent's arrival on voice/intents; the profile's trailing silence, which the end-pointer waits after speech by design, is added. The forged Whisper does not hear the words, so no template takes its text: with the voice model loaded it decides (LLM path); after models.unload the matcher alone decides (template path).")), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        }));
        return command;
    }
}
