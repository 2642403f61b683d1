using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Appliance.Benchmarks.Llm;

/// <summary>Renders an <see cref="LlmBenchReport"/> as console tables and as a markdown section for docs/benchmarks.md.</summary>
internal static class LlmReportWriter
{
    private static readonly string[] EngineHeader =
        ["engine", "runs", "load (s)", "peak RSS (MiB)", "first token (s)", "prefill (tok/s)", "decode (tok/s)", "decode ÷ bound"];

    private static readonly string[] RatioHeader = ["ratio", "decode", "prefill", "peak RSS"];

    public static void WriteConsole(LlmBenchReport report, IAnsiConsole console)
    {
        console.Write(Table(EngineHeader, EngineRows(report), $"{report.Preset}: prompt {report.PromptTokens}, generate {report.DecodeTokens}, {report.Threads} threads (medians)"));
        console.Write(Table(RatioHeader, RatioRows(report), null));
        console.WriteLine(Bound(report));
        console.WriteLine($"Load average (1/5/15 min) before the engines ran: {report.LoadAverageBefore}; after: {report.LoadAverageAfter}");
        var verdict = report.ServiceOverBareDecode >= LlmBenchReport.ServiceDecodeTarget ? "[green]meets[/]" : "[red]is below[/]";
        console.MarkupLine(Invariant($"Service decode is {report.ServiceOverBareDecode:F3}× the bare loop: {verdict} the {LlmBenchReport.ServiceDecodeTarget:F2} target."));
    }

    public static string Markdown(LlmBenchReport report)
    {
        var m = report.Machine;
        var text = new StringBuilder();
        text.AppendLine(Invariant($"## LLM service vs bare ONNX Runtime GenAI vs llama.cpp — {report.Preset}"));
        text.AppendLine();
        text.AppendLine(Invariant($"- Date: {report.Date:yyyy-MM-dd HH:mm} UTC"));
        text.AppendLine(Invariant($"- Machine: {m}"));
        text.AppendLine(Invariant($"- Load average (1/5/15 min) before the engines ran: {report.LoadAverageBefore}; after: {report.LoadAverageAfter}"));
        text.AppendLine(Invariant($"- Model: forged `{report.Preset}` (seed {report.Seed}), {report.ModelShapes}"));
        text.AppendLine(Invariant($"- Engines: {report.Versions}; each in its own child process, {report.Threads} threads (ONNX Runtime intra-op, llama.cpp n_threads)"));
        text.AppendLine(Invariant($"- Runs: prompt of {report.PromptTokens} fixed token ids, {report.DecodeTokens} tokens generated greedily with end of sequence suppressed; {report.WarmupRounds} warm-up + {report.Engines[0].Runs.Count} measured rounds in which the engines take turns (each round starting with the next engine), medians"));
        text.AppendLine(Invariant($"- Command: `{report.Command}`"));
        text.AppendLine();
        AppendMarkdownTable(text, EngineHeader, EngineRows(report));
        text.AppendLine();
        AppendMarkdownTable(text, RatioHeader, RatioRows(report));
        text.AppendLine();
        text.AppendLine(Bound(report));
        text.AppendLine();
        text.AppendLine("First token: from the request to the first generated token id (the service's own `TimeToFirstToken`, queue included). "
            + "Prefill: prompt tokens ÷ first-token time. Decode: generated tokens after the first ÷ the time after the first "
            + "(for the service, to the arrival of `LlmCompleted`). Decode ÷ bound: decode tokens/s over bandwidth ÷ bytes per token "
            + "(the GGUF count for llama.cpp); near 100 % an engine streams its weights at the measured bandwidth. Peak RSS: the child's `VmHWM`, mapped model files included. "
            + "service-int4-embedding is the service on the same weights forged with `--embedding int4`: the embedding table as 4-bit codes and fp32 block scales read by "
            + "`GatherBlockQuantized` instead of float32 (at block 32 the same logits, to the bit; at a larger block the table is quantized again, as the matrices are). "
            + "service-pruned-head is the service on the int4-embedding weights forged with `--prune-lm-head` too: the LM head reads only the last position, so a prompt slice returns one row of logits instead of one per position (the same tokens). "
            + "service-fp16-kv is the service on the pruned-head weights forged with `--kv-cache fp16` too: the KV cache in fp16 (half its bytes, as llama.cpp keeps its own), the attention computed in fp16 between two casts, the rest fp32 (logits within fp16 rounding of the fp32 cache's). "
            + "bare-ngram is the bare loop with GenAI's n-gram speculative decoding (prompt lookup): it proposes the tokens that followed the last tokens' earlier occurrence in the prompt or the output and has the model verify them in one step; "
            + "it gains only where the output repeats what came before, so its figure holds for how much this random-weight model's greedy text repeats itself (the draft tokens proposed and accepted are in its ratio row), not for a trained model's summary; its decode ÷ bound can pass 100 %, as an accepted draft saves a pass over the weights. "
            + "Bytes per token: every `MatMulNBits` weight (4-bit codes + fp32 block scales, LM head included), norm weights and biases, "
            + "one embedding row and the KV cache at the mean decode context, counted from the ONNX graph's stored tensors; for the GGUF "
            + "the same matrices as Q4_0 (18 bytes per 32 weights) and an fp16 KV cache. Activations and logits are not counted. "
            + "GenAI's `search.min_length` in the benchmark copy's `genai_config.json` keeps the service and the bare loop from stopping at end of sequence.");
        return text.ToString();
    }

    private static List<string[]> EngineRows(LlmBenchReport report) =>
    [
        .. LlmEngineKindNames.All.Select(report.Engine).Select(e => new[]
        {
            e.Engine,
            Invariant($"{e.Runs.Count}"),
            Invariant($"{e.LoadSeconds:F2}"),
            Invariant($"{e.PeakResidentBytes / (1024.0 * 1024):F0}"),
            Invariant($"{e.TimeToFirstTokenSeconds:F3}"),
            Invariant($"{e.PrefillTokensPerSecond:F1}"),
            Invariant($"{e.DecodeTokensPerSecond:F2}"),
            Invariant($"{report.FractionOfBound(e):P0}"),
        }),
    ];

    private static List<string[]> RatioRows(LlmBenchReport report) =>
    [
        [Invariant($"service / bare (target ≥ {LlmBenchReport.ServiceDecodeTarget:F2} decode)"), Invariant($"{report.ServiceOverBareDecode:F3}"), Invariant($"{report.ServiceOverBarePrefill:F3}"), ""],
        [Invariant($"bare-ngram / bare (n-gram {Engines.BareGenAiEngine.NgramSize}, {Engines.BareGenAiEngine.MaxDraftTokens} drafts a round; {report.Engine(LlmEngineKind.BareNgram).DraftsAccepted} of {report.Engine(LlmEngineKind.BareNgram).DraftsProposed} draft tokens accepted over its runs)"), Invariant($"{report.NgramOverBareDecode:F3}"), "", ""],
        ["service / service-no-cpu-arena (ONNX Runtime's CPU arena on, the daemon's default for language models, against off)", Invariant($"{report.ServiceOverNoCpuArenaDecode:F3}"), Invariant($"{report.ServiceOverNoCpuArenaPrefill:F3}"), Invariant($"{report.ServiceOverNoCpuArenaPeakMemory:F3}")],
        ["service-spin-within-run / service (intra-op threads spinning inside each run, against the default of never)", Invariant($"{report.SpinWithinRunOverServiceDecode:F3}"), Invariant($"{report.SpinWithinRunOverServicePrefill:F3}"), ""],
        ["service-int4-embedding / service", Invariant($"{report.Int4EmbeddingOverServiceDecode:F3}"), Invariant($"{report.Int4EmbeddingOverServicePrefill:F3}"), ""],
        ["service-pruned-head / service-int4-embedding", Invariant($"{report.PrunedHeadOverInt4EmbeddingDecode:F3}"), Invariant($"{report.PrunedHeadOverInt4EmbeddingPrefill:F3}"), Invariant($"{report.PrunedHeadOverInt4EmbeddingPeakMemory:F3}")],
        ["service-fp16-kv / service-pruned-head", Invariant($"{report.Fp16KvCacheOverPrunedHeadDecode:F3}"), Invariant($"{report.Fp16KvCacheOverPrunedHeadPrefill:F3}"), Invariant($"{report.Fp16KvCacheOverPrunedHeadPeakMemory:F3}")],
        ["llama.cpp / bare", Invariant($"{report.LlamaOverBareDecode:F3}"), Invariant($"{report.LlamaOverBarePrefill:F3}"), ""],
        ["llama.cpp / service", Invariant($"{report.LlamaOverServiceDecode:F3}"), Invariant($"{report.LlamaOverServicePrefill:F3}"), ""],
        ["llama.cpp / service-spin-within-run", Invariant($"{report.LlamaOverSpinWithinRunDecode:F3}"), Invariant($"{report.LlamaOverSpinWithinRunPrefill:F3}"), ""],
        ["llama.cpp / service-int4-embedding", Invariant($"{report.LlamaOverInt4EmbeddingDecode:F3}"), Invariant($"{report.LlamaOverInt4EmbeddingPrefill:F3}"), ""],
        ["llama.cpp / service-pruned-head", Invariant($"{report.LlamaOverPrunedHeadDecode:F3}"), Invariant($"{report.LlamaOverPrunedHeadPrefill:F3}"), ""],
        ["service / llama.cpp", "", "", Invariant($"{report.ServiceOverLlamaPeakMemory:F3}")],
        ["service-int4-embedding / llama.cpp", "", "", Invariant($"{report.Int4EmbeddingOverLlamaPeakMemory:F3}")],
        ["service-pruned-head / llama.cpp (goal ≤ 1.00)", "", "", Invariant($"{report.PrunedHeadOverLlamaPeakMemory:F3}")],
        ["service-fp16-kv / llama.cpp", "", "", Invariant($"{report.Fp16KvCacheOverLlamaPeakMemory:F3}")],
    ];

    private static string Bound(LlmBenchReport report)
    {
        var t = report.Traffic;
        const double Mega = 1e6;
        return Invariant(
            $"Memory bandwidth ({report.Threads}-thread streaming read of {report.BandwidthMebibytes} MiB, best of 5): {report.BandwidthBytesPerSecond / 1e9:F2} GB/s. ")
            + Invariant(
            $"Bytes read per decoded token, ONNX: {t.OnnxBytesPerToken / Mega:F1} MB ({t.MatMulWeightBytes / Mega:F1} MB 4-bit codes + {t.MatMulScaleBytes / Mega:F1} MB scales + {t.OtherWeightBytes / Mega:F2} MB norms, biases, embedding row + {t.KvBytes / Mega:F1} MB KV cache at {t.MeanContextTokens:F0} tokens) ")
            + Invariant($"→ bound {report.OnnxDecodeBound:F2} tok/s; GGUF Q4_0: {t.GgufBytesPerToken / Mega:F1} MB → bound {report.GgufDecodeBound:F2} tok/s.");
    }

    private static Table Table(string[] header, List<string[]> rows, string? title)
    {
        var table = new Table { Title = title is null ? null : new TableTitle(Markup.Escape(title)) };
        foreach (var (column, i) in header.Select((c, i) => (c, i)))
        {
            table.AddColumn(i == 0 ? new TableColumn(Markup.Escape(column)) : new TableColumn(Markup.Escape(column)).RightAligned());
        }

        foreach (var row in rows)
        {
            table.AddRow([.. row.Select(Markup.Escape)]);
        }

        return table;
    }

    private static void AppendMarkdownTable(StringBuilder text, string[] header, List<string[]> rows)
    {
        text.AppendLine("| " + string.Join(" | ", header) + " |");
        text.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? " --- |" : " ---: |")));
        foreach (var row in rows)
        {
            text.AppendLine("| " + string.Join(" | ", row) + " |");
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
