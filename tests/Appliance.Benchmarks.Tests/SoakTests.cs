using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>
/// The short version of the soak (the README's command runs an hour): one minute of the same mixed load, sampled every
/// 2 s and charted. A minute is too short to judge growth, so this holds the load itself: every request answered,
/// every meeting completed with every frame accounted for, the samples taken and the chart drawn.
/// </summary>
public sealed class SoakTests
{
    [Fact]
    public async Task A_minute_of_mixed_load_is_served_without_a_failure_and_is_sampled_and_charted()
    {
        var folder = Path.Combine(Path.GetTempPath(), "soak-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new SoakSettings(TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(12), folder, SoakSettings.AllLoads);

            var report = await SoakCampaign.RunAsync(settings, _ => { }, CancellationToken.None);
            var chart = Path.Combine(folder, "soak.png");
            SoakChart.Save(report, chart);

            var rows = string.Join("; ", SoakCommand.Rows(report).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Failure is null, report.Failure);
            Assert.Equal(SoakSettings.AllLoads.Count, report.Loads.Count);
            Assert.All(report.Loads, load => Assert.True(load.Done > 0 && load.Failed == 0, rows));
            Assert.InRange(report.Samples.Count, 25, 31);
            Assert.True(report.Steady.Count >= 15, rows);
            Assert.All(report.Samples, s => Assert.True(s.ResidentMib > 0 && s.Threads > 0 && s.OpenFiles > 0 && s.AssemblyImages > 0, rows));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(chart)[..4]);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Files_opened_after_the_warm_up_are_the_targets_beyond_those_open_then_each_as_often_as_it_is_new()
    {
        string[] before = ["/app/a.dll", "socket:[1]", "socket:[1]", "pipe:[7]"];
        string[] after = ["/app/a.dll", "/app/b.dll", "socket:[1]", "socket:[1]", "socket:[1]", "/app/b.dll"];

        Assert.Equal(["/app/b.dll", "/app/b.dll", "socket:[1]"], SoakCampaign.Opened(before, after));
        Assert.Empty(SoakCampaign.Opened(after, before.Take(2).ToArray()));
        Assert.True(SoakCampaign.IsAssemblyImage("/usr/share/dotnet/shared/Microsoft.NETCore.App/10.0.12/System.Collections.NonGeneric.dll"));
        Assert.False(SoakCampaign.IsAssemblyImage("socket:[1]"));
        Assert.False(SoakCampaign.IsAssemblyImage("/var/lib/appliance/meetings/m1/audio.journal"));
    }
}
