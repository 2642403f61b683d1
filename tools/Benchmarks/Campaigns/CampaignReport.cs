using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What every campaign command shares: its table on the console and its markdown section.</summary>
internal static class CampaignReport
{
    /// <summary>Prints the figures as a two-column table.</summary>
    public static void Print(IAnsiConsole console, IEnumerable<(string Figure, string Value)> rows)
    {
        var table = new Table().AddColumns("figure", "value");
        foreach (var (figure, value) in rows)
        {
            table.AddRow(Markup.Escape(figure), Markup.Escape(value));
        }

        console.Write(table);
    }

    /// <summary>The markdown section: a title, how it was run (machine and command added), the figures, and what they mean.</summary>
    public static string Markdown(string title, DateTime startedAt, IEnumerable<string> setUp, string command, IEnumerable<(string Figure, string Value)> rows, string reading)
    {
        var text = new StringBuilder();
        text.AppendLine($"## {title}");
        text.AppendLine();
        text.AppendLine(Invariant($"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC"));
        text.AppendLine(Invariant($"- Machine: {MachineInfo.Read()}"));
        foreach (var line in setUp)
        {
            text.AppendLine($"- {line}");
        }

        text.AppendLine($"- Command: `appliance-bench {command}`");
        text.AppendLine();
        text.AppendLine("| figure | value |");
        text.AppendLine("| --- | ---: |");
        foreach (var (figure, value) in rows)
        {
            text.AppendLine($"| {figure} | {value.Replace("|", "\\|", StringComparison.Ordinal)} |");
        }

        text.AppendLine();
        text.AppendLine(reading);
        return text.ToString();
    }

    /// <summary>"median / max" of <paramref name="times"/> in seconds, or "-".</summary>
    public static string MedianAndMax(IReadOnlyList<TimeSpan> times)
    {
        var sorted = times.Order().ToList();
        return sorted.Count == 0 ? "-" : Invariant($"{sorted[sorted.Count / 2].TotalSeconds:F2} s / {sorted[^1].TotalSeconds:F2} s");
    }

    public static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
}
