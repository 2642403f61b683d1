using System.CommandLine;
using Appliance.ModelForge.Llm;
using Spectre.Console;
using static Appliance.Benchmarks.Campaigns.CampaignReport;

namespace Appliance.Benchmarks.Llm;

/// <summary><c>appliance-bench spin</c>: the LLM's spin policies side by side (see <see cref="SpinBenchmark"/>).</summary>
internal static class SpinCommand
{
    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var preset = new Option<string>("--preset") { Description = "Shapes of the forged LLM", DefaultValueFactory = _ => LlmPreset.R1DistillQwen15B.Name };
        preset.AcceptOnlyFromAmong([.. LlmPreset.All.Select(p => p.Name)]);
        var threads = BenchmarkCli.Positive("--threads", "ONNX Runtime intra-op threads of the LLM and of Whisper", 2);
        var runs = BenchmarkCli.Positive("--runs", "Measured decode rounds per policy (the median is reported)", 3);
        var clipSeconds = BenchmarkCli.Positive("--clip-seconds", "Length of the noise clip Whisper transcribes alone and beside the LLM", SpinBenchmark.DefaultClipSeconds);
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var command = new Command("spin", "The LLM's spin policies side by side: decode speed, processor time between tokens, and Whisper beside a generating LLM")
        {
            preset, threads, runs, clipSeconds, models, markdown,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            LlmPreset.TryGet(parse.GetValue(preset)!, out var chosen);
            var console = AnsiConsole.Console;
            var startedAt = DateTime.UtcNow;
            var load = MachineInfo.LoadAverage();
            var results = await SpinBenchmark.RunAsync(chosen!, parse.GetValue(models)!.FullName, parse.GetValue(threads), parse.GetValue(runs), parse.GetValue(clipSeconds), line => console.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            var rows = SpinBenchmark.Rows(results).ToList();
            Print(console, rows);
            if (parse.GetValue(markdown) is { } output)
            {
                await File.WriteAllTextAsync(output.FullName, Markdown(
                    "LLM spin policies — decode, processor time between tokens, Whisper beside the LLM",
                    startedAt,
                    [
                        Invariant($"Load average (1/5/15 min) before the run: {load}"),
                        Invariant($"Models: forged `{chosen!.Name}` (seed 42) with the int4 embedding, {parse.GetValue(threads)} intra-op threads; forged whisper-base (seed 42, end-of-text bias {Meetings.SummarySettings.EndOfTextBiasDefault}), {parse.GetValue(threads)} threads, never spinning"),
                        Invariant($"Runs: per policy, in this process one after the other: {parse.GetValue(runs)} measured decodes ({results[0].PromptTokens}-token prompt, {results[0].DecodeTokens} tokens) after a warm-up; a bare GenAI loop reading {SpinBenchmark.PausedTokens} tokens with a {SpinBenchmark.Pause.TotalMilliseconds:F0} ms pause after each; a {parse.GetValue(clipSeconds)} s noise clip through Whisper alone, then while the service generates 24-token answers back to back"),
                    ],
                    string.Join(' ', args),
                    rows,
                    "Never (the default of `Llm:Spinning`): idle threads sleep at once. WithinRun: they spin inside a graph run and stop when it returns (ONNX Runtime's `session.force_spinning_stop`). Always: ONNX Runtime's default, spinning between runs too. Processor time includes the tokens' own compute, which is the same under every policy; what Always adds over the others is what its threads burn while the reader pauses. Whisper's slowdown beside the LLM is the share of the two cores the LLM's threads take from speech."), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
        return command;
    }
}
