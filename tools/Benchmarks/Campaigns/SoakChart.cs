using ScottPlot;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>The soak's chart: resident set on the left axis, threads, open files and assembly images on the right, the warm-up marked.</summary>
internal static class SoakChart
{
    public static void Save(SoakReport report, string path)
    {
        var minutes = report.Samples.Select(s => s.At.TotalMinutes).ToArray();
        var plot = new Plot();
        var resident = plot.Add.Scatter(minutes, report.Samples.Select(s => s.ResidentMib).ToArray());
        resident.LegendText = "resident set (MiB)";
        var threads = plot.Add.Scatter(minutes, report.Samples.Select(s => (double)s.Threads).ToArray());
        threads.LegendText = "threads";
        threads.Axes.YAxis = plot.Axes.Right;
        var files = plot.Add.Scatter(minutes, report.Samples.Select(s => (double)s.OpenFiles).ToArray());
        files.LegendText = "open files (not assemblies)";
        files.Axes.YAxis = plot.Axes.Right;
        var assemblies = plot.Add.Scatter(minutes, report.Samples.Select(s => (double)s.AssemblyImages).ToArray());
        assemblies.LegendText = "assembly images";
        assemblies.Axes.YAxis = plot.Axes.Right;
        var warmUp = plot.Add.VerticalLine(report.Settings.WarmUp.TotalMinutes);
        warmUp.LegendText = "end of warm-up";
        plot.Axes.Bottom.Label.Text = "minutes";
        plot.Axes.Left.Label.Text = "resident set, MiB";
        plot.Axes.Right.Label.Text = "threads, descriptors";
        plot.Title($"appliance-daemon under {report.Settings.LoadName}");
        plot.ShowLegend();
        plot.SavePng(path, 1000, 500);
    }
}
