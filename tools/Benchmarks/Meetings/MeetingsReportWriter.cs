using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Appliance.Benchmarks.Meetings;

/// <summary>How a meetings run was made: the parts of the report both figures share.</summary>
/// <param name="Command">The command line, as typed after <c>appliance-bench</c>.</param>
/// <param name="Machine">The machine.</param>
/// <param name="LoadBefore">Load average before the run.</param>
/// <param name="LoadAfter">Load average after it.</param>
/// <param name="StartedAt">When the run began (UTC).</param>
/// <param name="Audio">The recording and its length.</param>
/// <param name="JournalFileSystem">File system of the daemon's working directory (its meeting journals are fsynced there).</param>
internal sealed record MeetingsRun(string Command, MachineInfo Machine, string LoadBefore, string LoadAfter, DateTime StartedAt, MeetingAudio Audio, string JournalFileSystem);

/// <summary>Console tables and the markdown section of <c>appliance-bench meetings</c>.</summary>
internal static class MeetingsReportWriter
{
    public static Table IngestTable(IngestReport report)
    {
        var table = new Table().AddColumns("streams", "refused busy", "frames sent", "accepted", "lost", "gaps", "dropped", "daemon CPU", "daemon peak RSS", "stop reply median / max", "send lag p99 / max", "bench CPU", "failure");
        foreach (var step in report.Steps)
        {
            table.AddRow([.. IngestCells(step).Select(c => Markup.Escape(c))]);
        }

        return table;
    }

    public static Table SummaryTable(SummaryReport report)
    {
        var table = new Table().AddColumns("figure", "value");
        foreach (var (figure, value) in SummaryRows(report))
        {
            table.AddRow(Markup.Escape(figure), Markup.Escape(value));
        }

        return table;
    }

    public static Table TimelineTable(SummaryReport report)
    {
        var table = new Table().AddColumns("after stop", "until", "what", "messages", "last message's other fields");
        foreach (var entry in report.Timeline)
        {
            table.AddRow(Seconds(entry.First), entry.Count > 1 ? Seconds(entry.Last) : "", Markup.Escape(entry.What), Invariant($"{entry.Count}"), Markup.Escape(entry.Detail));
        }

        return table;
    }

    /// <summary>The headline of the ingest figure, in words.</summary>
    public static string IngestHeadline(IngestReport report)
    {
        var last = report.Steps[^1];
        var broke = last.Lossless ? null : last.Failure is { } failure
            ? Invariant($"{last.Streams} streams did not complete: {failure}")
            : Invariant($"{last.Streams} streams lost {last.Lost} of {last.FramesSent} frames");
        var headline = report.LargestLossless is { } largest
            ? broke is null
                ? Invariant($"every step was lossless, up to {largest} streams (the limit lies above)")
                : Invariant($"{largest} streams without loss; {broke}")
            : Invariant($"no step was lossless: {broke}");
        var admission = report.Steps.Where(s => s.Refused > 0 && s.Failure is null).Select(s => Invariant($"{s.Streams} streams asked, {s.Refused} refused busy, the {s.Streams - s.Refused} admitted lost {s.Lost} frames"));
        return admission.Any() ? Invariant($"{headline}; admission control at {report.Capacity}: {string.Join("; ", admission)}") : headline;
    }

    public static string Markdown(MeetingsRun run, IngestReport? ingest, SummaryReport? summary)
    {
        var text = new StringBuilder();
        var machine = run.Machine;
        text.AppendLine("## Meetings — ingest capacity and stop to summary, dev-x64 profile");
        text.AppendLine();
        text.AppendLine(Invariant($"- Date: {run.StartedAt:yyyy-MM-dd HH:mm} UTC"));
        text.AppendLine(Invariant($"- Machine: {machine}"));
        text.AppendLine(Invariant($"- Load average (1/5/15 min) before the run: {run.LoadBefore}; after: {run.LoadAfter}"));
        text.AppendLine(Invariant($"- Audio: {run.Audio.Source} ({run.Audio.Duration.TotalSeconds:F1} s, looped where longer is needed), sent as 20 ms Opus frames at 16 kHz mono (the meeting player's encoder, VoIP mode)"));
        text.AppendLine(Invariant($"- Daemon: `dotnet appliance-daemon.dll` (Release build), embedded broker on a loopback port, its own working directory on {run.JournalFileSystem}, where it writes and fsyncs the meeting journals"));
        text.AppendLine(Invariant($"- Command: `appliance-bench {run.Command}`"));
        text.AppendLine();

        if (ingest is not null)
        {
            text.AppendLine("### Ingest: real-time meeting streams one daemon takes without loss (no transcription)");
            text.AppendLine();
            text.AppendLine(Invariant($"- Profile: dev-x64 with no `asr`, `voiceLlm`, `summaryLlm` or `wakeWord`, `meetings.capacity` {ingest.Capacity}; VAD: {ingest.Vad}"));
            text.AppendLine(Invariant($"- Each stream: its own MQTT connection, start, one frame every 20 ms for {ingest.Seconds} s (mean frame {ingest.MeanFrameBytes:F0} bytes; frame k of stream i due at k × 20 ms + i × 20 ms / N on one clock), then stop with `lastSequence`; all streams stop at once. Accepted frames from `meetings.get`; the step's sessions are deleted before the next step; an unrecorded 3 s step of 2 streams warms both sides up first"));
            text.AppendLine(Invariant($"- **{IngestHeadline(ingest)}**"));
            text.AppendLine();
            text.AppendLine("| streams | refused busy | frames sent | accepted | lost | gaps | dropped | daemon CPU | daemon peak RSS | stop reply median / max | send lag p99 / max | bench CPU |");
            text.AppendLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
            foreach (var step in ingest.Steps)
            {
                text.AppendLine("| " + string.Join(" | ", IngestCells(step).Take(12)) + " |");
            }

            text.AppendLine();
            text.AppendLine(Invariant($"Refused busy is the streams whose start was answered `busy` (admission control: more than `meetings.capacity` at once); they send nothing. Lost is frames sent less frames accepted, over the admitted streams; gaps are the sequence numbers the daemon reports missing, dropped the frames it received and refused (late, after stop, other codec, bad payload). CPU is percent of one core over the streaming time ({ingest.Seconds} s), from `/proc/PID/stat`; the daemon and this program (all the clients: MQTT publishing, no encoding) share the machine. Peak RSS is `VmHWM`, {(ingest.PeakPerStep ? "reset before each step" : "since the daemon started")}. Send lag is how late the clients published a frame against its schedule; when it nears 20 ms the clients, not the daemon, are the limit."));
            foreach (var step in ingest.Steps.Where(s => s.Failure is not null))
            {
                text.AppendLine(Invariant($"{step.Streams} streams did not complete: {step.Failure}"));
            }

            AppendProblems(text, ingest.DaemonProblems);
            text.AppendLine();
        }

        if (summary is not null)
        {
            text.AppendLine(Invariant($"### Stop to summary: a {summary.AudioLength.TotalMinutes:0.#}-minute meeting, forged whisper-base and r1-distill-qwen-1.5b"));
            text.AppendLine();
            var w = SummarySettings.Whisper;
            var l = SummarySettings.Llm;
            text.AppendLine(Invariant($"- Speech model (`asr`): forged `{w.Name}` (seed {SummarySettings.Seed}), d_model {w.DModel}, {w.EncoderLayers} + {w.DecoderLayers} layers, {w.AttentionHeads} heads, {w.NumMelBins} mels, vocabulary {WhisperVocabularySize}, end-of-text logit bias {summary.EndOfTextBias} (so random weights write about as much per utterance as a speaker says); hallucination guards off, one greedy decode per window (random weights would fail the log-probability guard on every window and be decoded again at each temperature)"));
            text.AppendLine(Invariant($"- Summary model (`summaryLlm`): forged `{l.Name}` (seed {SummarySettings.Seed}), hidden {l.HiddenSize}, {l.NumHiddenLayers} layers, {l.NumAttentionHeads} heads / {l.NumKeyValueHeads} KV heads of {l.HeadSize}, MLP {l.IntermediateSize}, vocabulary {l.VocabSize} ({(summary.VocabularyFrom is null ? "the forge's learned merges" : $"the vocabulary and merges of `{summary.VocabularyFrom}`")}), ONNX int4{(summary.PrunedLmHead ? " with the LM head pruned to the last position" : "")}, {summary.KvCache} KV cache; contextTokens {SummarySettings.ContextTokens}, thinkingBudgetTokens {summary.ThinkingBudget}; no `voiceLlm`, no `wakeWord`; VAD: {summary.Vad}"));
            text.AppendLine(Invariant($"- Meeting: {summary.AudioLength.TotalMinutes:0.#} min streamed as one session at {SpeedText(summary.Speed)}; stop with `lastSequence`; timed from the stop request to the retained summary's arrival"));
            text.AppendLine();
            text.AppendLine("| figure | value |");
            text.AppendLine("| --- | ---: |");
            foreach (var (figure, value) in SummaryRows(summary))
            {
                text.AppendLine($"| {figure} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |");
            }

            text.AppendLine();
            text.AppendLine("After stop (arrival at the client, from the stop request; runs of the same progress state merged):");
            text.AppendLine();
            text.AppendLine("| after stop | until | what | messages | last message's other fields |");
            text.AppendLine("| ---: | ---: | --- | ---: | --- |");
            foreach (var entry in summary.Timeline)
            {
                text.AppendLine(Invariant($"| {Seconds(entry.First)} | {(entry.Count > 1 ? Seconds(entry.Last) : "")} | {entry.What} | {entry.Count} | {entry.Detail.Replace("|", "\\|", StringComparison.Ordinal)} |"));
            }

            text.AppendLine();
            text.AppendLine(Invariant($"Random weights never end an answer early: every summary call thinks up to its budget and answers up to its limit, so the summary is slower than a trained model's. The forged Whisper's utterance length is set by its end-of-text bias ({summary.EndOfTextBias}); {(summary.VocabularyFrom is null ? "the forged tokenizers have few merges, so the same text is more tokens than with the real ones" : "the summary model's tokenizer is the real vocabulary, so a text costs the tokens it costs a real model (the forged Whisper's text is random word pieces, which cost more per character than speech)")}. The shapes, not the words, are faithful."));
            if (summary.SummarySource == "extractive")
            {
                text.AppendLine(summary.FallbackReason is { } reason
                    ? $"The daemon fell back to the extractive summary: {reason}."
                    : "The daemon fell back to the extractive summary (its log gave no reason); the time includes the model calls made before.");
            }
            if (summary.Failure is { } failure)
            {
                text.AppendLine();
                text.AppendLine($"Incomplete: {failure}");
            }

            AppendProblems(text, summary.DaemonProblems);
            text.AppendLine();
        }

        return text.ToString();
    }

    private static int WhisperVocabularySize => Appliance.ModelForge.Whisper.WhisperPreset.VocabSize;

    private static IEnumerable<string> IngestCells(IngestStep step) => step.FramesSent == 0 && step.Failure is not null
        ? [Invariant($"{step.Streams}"), "", "", "", "", "", "", "", "", "", "", "", step.Failure]
        :
        [
            Invariant($"{step.Streams}"),
            Invariant($"{step.Refused}"),
            Invariant($"{step.FramesSent}"),
            Invariant($"{step.FramesAccepted}"),
            Invariant($"{step.Lost}"),
            Invariant($"{step.GapFrames}"),
            Invariant($"{step.Dropped}"),
            Invariant($"{step.DaemonCpuPercent:F1} %"),
            Invariant($"{step.DaemonPeakRssKib / 1024.0:F1} MiB"),
            Invariant($"{step.StopReplyMedian.TotalMilliseconds:F0} / {step.StopReplyMax.TotalMilliseconds:F0} ms"),
            Invariant($"{step.SendLagP99.TotalMilliseconds:F1} / {step.SendLagMax.TotalMilliseconds:F1} ms"),
            Invariant($"{step.BenchCpuPercent:F1} %"),
            step.Failure ?? "",
        ];

    private static IEnumerable<(string Figure, string Value)> SummaryRows(SummaryReport report)
    {
        yield return ("stop request → summary", report.StopToSummary is { } s ? Invariant($"{s.TotalSeconds:F1} s") : "none");
        yield return ("summary source", report.SummarySource ?? "—");
        yield return ("stop request → stop reply", Invariant($"{report.StopReply.TotalMilliseconds:F0} ms"));
        yield return ("last transcript message before stop", report.LastTranscriptBeforeStop is { } b ? Invariant($"{b.TotalSeconds:F1} s before") : "none");
        yield return ("last transcript message after stop", report.LastTranscriptAfterStop is { } a ? Invariant($"{a.TotalSeconds:F1} s after") : "none");
        yield return ("transcript segments (received / stored)", Invariant($"{report.TranscriptSegments} / {(report.StoredSegments < 0 ? "?" : report.StoredSegments.ToString(CultureInfo.InvariantCulture))}"));
        yield return ("transcript characters (received)", Invariant($"{report.TranscriptCharacters:N0}"));
        yield return ("frames sent / accepted", Invariant($"{report.FramesSent} / {(report.FramesAccepted < 0 ? "?" : report.FramesAccepted.ToString(CultureInfo.InvariantCulture))}"));
        yield return ("streaming time", Invariant($"{report.StreamTime.TotalSeconds:F1} s for {report.AudioLength.TotalSeconds:F0} s of audio ({SpeedText(report.Speed)})"));
        yield return ("models loaded after start", Invariant($"{report.ModelLoad.TotalSeconds:F1} s"));
        yield return ("daemon peak RSS (since start)", Invariant($"{report.DaemonPeakRssKib / 1024.0:F0} MiB"));
        yield return ("daemon RSS at stop / at the end", Invariant($"{report.DaemonRssAtStopKib / 1024.0:F0} / {report.DaemonRssAtEndKib / 1024.0:F0} MiB"));
        if (report.FallbackReason is { } reason)
        {
            yield return ("why extractive (daemon log)", reason);
        }
    }

    private static void AppendProblems(StringBuilder text, IReadOnlyList<string> problems)
    {
        if (problems.Count == 0)
        {
            return;
        }

        text.AppendLine();
        text.AppendLine(Invariant($"The daemon logged {problems.Count} warning or error line(s); the first: `{problems[0].Replace("`", "'", StringComparison.Ordinal)}`"));
    }

    private static string SpeedText(double speed) => speed == 0 ? "full speed" : speed == 1 ? "real time" : Invariant($"{speed:0.##}× real time");

    private static string Seconds(TimeSpan time) => Invariant($"+{time.TotalSeconds:F2} s");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
