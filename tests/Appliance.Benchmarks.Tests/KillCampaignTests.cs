using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>The short version of the SIGKILL campaign (the README's command runs 100 kills): the same checks, three kills.</summary>
public sealed class KillCampaignTests
{
    [Fact]
    public async Task Three_kills_while_meetings_stream_lose_no_accepted_frame_and_every_meeting_completes()
    {
        var folder = Path.Combine(Path.GetTempPath(), "kill-campaign-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new KillSettings(Kills: 3, Meetings: 2, MinRun: TimeSpan.FromSeconds(0.3), MaxRun: TimeSpan.FromSeconds(1), Seed: 7, folder);

            var report = await KillCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", KillCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Meetings), rows);
            Assert.Equal(3, report.Kills);
            Assert.True(report.GapFrames > 0, $"no frame was sent while the daemon was down, so the kills did not land: {rows}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
