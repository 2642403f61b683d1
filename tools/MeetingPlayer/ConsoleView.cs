using Appliance.Contracts;
using System.Globalization;
using Spectre.Console;

namespace Appliance.MeetingPlayer;

/// <summary>
/// What the player prints, line by line so that it reads the same in a terminal and in a log: transcript segments as
/// they arrive (a revision is marked and replaces the earlier text in the final transcript), throttled progress, and
/// the summary. Thread-safe: the streaming and the listening side both write.
/// </summary>
internal sealed class ConsoleView(IAnsiConsole console, TimeProvider time)
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private readonly Dictionary<string, TranscriptSegment> _segments = new(StringComparer.Ordinal);
    private long _lastStreamReport = long.MinValue;
    private long _lastProgressReport = long.MinValue;
    private MeetingPhase? _lastState;

    public void Info(string markup)
    {
        lock (_gate)
        {
            console.MarkupLine(markup);
        }
    }

    public void Error(string text)
    {
        lock (_gate)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(text)}");
        }
    }

    public void Warning(string text)
    {
        lock (_gate)
        {
            console.MarkupLine($"[yellow]warning:[/] {Markup.Escape(text)}");
        }
    }

    public void Streaming(MeetingStreamCounts counts)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var done = counts.Sent >= counts.Frames - counts.Lost + counts.Duplicated;
            if (!done && _lastStreamReport != long.MinValue && time.GetElapsedTime(_lastStreamReport, now) < ProgressInterval)
            {
                return;
            }

            _lastStreamReport = now;
            console.MarkupLine(CultureInfo.InvariantCulture, "[grey]audio: {0}/{1} frames published ({2:0}%), {3:0.0} s elapsed[/]",
                counts.Sent, counts.Frames - counts.Lost + counts.Duplicated,
                100.0 * counts.Sent / Math.Max(1, counts.Frames - counts.Lost + counts.Duplicated), counts.Elapsed.TotalSeconds);
        }
    }

    public void Transcript(TranscriptSegment segment)
    {
        lock (_gate)
        {
            var revised = _segments.TryGetValue(segment.SegmentId, out var earlier);
            if (revised && earlier!.Revision > segment.Revision)
            {
                return;
            }

            _segments[segment.SegmentId] = segment;
            var marker = revised ? $" [yellow](rev {segment.Revision})[/]" : "";
            console.MarkupLine($"[blue]{Markup.Escape(Range(segment))}[/]{marker} {Markup.Escape(segment.Text)}");
        }
    }

    public void Progress(MeetingProgress progress)
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            var changed = progress.State != _lastState || progress.Stage is not null;
            if (!changed && !progress.IsTerminal && _lastProgressReport != long.MinValue && time.GetElapsedTime(_lastProgressReport, now) < ProgressInterval)
            {
                return;
            }

            _lastProgressReport = now;
            _lastState = progress.State;
            var colour = progress.State is MeetingPhase.Failed or MeetingPhase.Aborted ? "red" : progress.State == MeetingPhase.Completed ? "green" : "grey";
            var state = ContractJson.WireName(progress.State);
            if (progress.Stage is { } stage)
            {
                var part = progress.Chunk is { } chunk ? string.Create(CultureInfo.InvariantCulture, $" {chunk}/{progress.Chunks}") : "";
                var constrained = progress.Constrained == true ? " (retry, constrained to the schema)" : "";
                console.MarkupLine(CultureInfo.InvariantCulture, "[{0}]daemon: {1} · {2}{3}{4}[/]", colour, Markup.Escape(state), Markup.Escape(ContractJson.WireName(stage)), part, constrained);
                return;
            }

            var percent = progress.PercentTranscribed is { } p ? string.Create(CultureInfo.InvariantCulture, $" · {p:0.#}% transcribed") : "";
            var received = progress.ReceivedSeconds is { } r ? string.Create(CultureInfo.InvariantCulture, $" of {r:0.0} s") : "";
            console.MarkupLine(CultureInfo.InvariantCulture, "[{0}]daemon: {1}{2} · accepted {3} · duplicates {4} · lost {5} · transcribed {6:0.0} s{7}[/]",
                colour, Markup.Escape(state), percent, progress.AcceptedFrames ?? 0, progress.Duplicates ?? 0, progress.LostFrames ?? 0, progress.TranscribedSeconds ?? 0, received);
        }
    }

    public void Counts(MeetingStreamCounts counts)
    {
        lock (_gate)
        {
            var table = new Table().Border(TableBorder.Rounded).Title("audio sent");
            table.AddColumn("frames");
            table.AddColumn("sent");
            table.AddColumn("lost");
            table.AddColumn("dup");
            table.AddColumn("reord");
            table.AddColumn("last seq");
            table.AddColumn("audio");
            table.AddColumn("took");
            table.AddRow(
                Number(counts.Frames), Number(counts.Sent), Number(counts.Lost), Number(counts.Duplicated), Number(counts.Reordered), Number(counts.LastSequence),
                string.Create(CultureInfo.InvariantCulture, $"{counts.AudioDuration.TotalSeconds:0.0} s"),
                string.Create(CultureInfo.InvariantCulture, $"{counts.Elapsed.TotalSeconds:0.0} s"));
            console.Write(table);
        }
    }

    public void FinalTranscript()
    {
        lock (_gate)
        {
            if (_segments.Count == 0)
            {
                console.MarkupLine("[grey](no transcript segments arrived)[/]");
                return;
            }

            var table = new Table().Border(TableBorder.Simple).Title("transcript");
            table.AddColumn("time");
            table.AddColumn("text");
            foreach (var segment in _segments.Values.OrderBy(s => s.Start).ThenBy(s => s.SegmentId, StringComparer.Ordinal))
            {
                table.AddRow(new Text(Range(segment)), new Text(segment.Text));
            }

            console.Write(table);
        }
    }

    public void Summary(MeetingSummary summary)
    {
        lock (_gate)
        {
            var rows = new List<Spectre.Console.Rendering.IRenderable>();
            if (!string.IsNullOrWhiteSpace(summary.Summary))
            {
                rows.Add(new Text(summary.Summary));
            }

            AddList(rows, "Key points", summary.KeyPoints);
            AddList(rows, "Decisions", summary.Decisions);
            AddList(rows, "Action items", [.. summary.ActionItems.Select(a =>
                (string.IsNullOrWhiteSpace(a.Owner) ? "" : a.Owner + ": ") + a.Task + (string.IsNullOrWhiteSpace(a.Due) ? "" : $" (due {a.Due})"))]);
            AddList(rows, "Open questions", summary.OpenQuestions);
            if (summary.Gaps.Count > 0)
            {
                AddList(rows, "Gaps in the audio", [.. summary.Gaps.Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Count} frame(s) from seq {g.FromSequence}"))]);
            }

            rows.Add(new Markup($"[grey]source: {Markup.Escape(ContractJson.WireName(summary.Source))} · language: {Markup.Escape(summary.Language)}[/]"));
            var panel = new Panel(new Rows(rows))
            {
                Header = new PanelHeader(Markup.Escape(string.IsNullOrWhiteSpace(summary.Title) ? "Summary" : summary.Title)),
                Border = BoxBorder.Rounded,
                Expand = true,
            };
            console.Write(panel);
        }
    }

    private static void AddList(List<Spectre.Console.Rendering.IRenderable> rows, string heading, IReadOnlyList<string> items)
    {
        if (items.Count == 0)
        {
            return;
        }

        rows.Add(new Markup($"[bold]{Markup.Escape(heading)}[/]"));
        foreach (var item in items)
        {
            rows.Add(new Text("  • " + item));
        }
    }

    /// <summary>An enum value as the wire names it.</summary>

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Range(TranscriptSegment segment) => $"[{Clock(segment.Start)} – {Clock(segment.End)}]";

    private static string Clock(double seconds)
    {
        var time = TimeSpan.FromSeconds(Math.Max(0, seconds));
        return time.TotalHours >= 1
            ? time.ToString(@"h\:mm\:ss\.f", CultureInfo.InvariantCulture)
            : time.ToString(@"mm\:ss\.f", CultureInfo.InvariantCulture);
    }
}
