using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>The short version of the broker-loss campaign (the README's command runs 10 outages, each after a run long enough for the daemon's back-off to start again): the same checks, two outages.</summary>
public sealed class BrokerLossCampaignTests
{
    [Fact]
    public async Task Two_broker_outages_while_meetings_stream_lose_no_accepted_frame_and_every_meeting_completes()
    {
        var folder = Path.Combine(Path.GetTempPath(), "broker-loss-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new BrokerLossSettings(Outages: 2, Meetings: 2, MinRun: TimeSpan.FromSeconds(0.5), MaxRun: TimeSpan.FromSeconds(1), MinDown: TimeSpan.FromSeconds(0.5), MaxDown: TimeSpan.FromSeconds(1), Seed: 3, folder);

            var report = await BrokerLossCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", BrokerLossCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Meetings), rows);
            Assert.Equal(2, report.Reconnects.Count);
            Assert.True(report.GapFrames > 0, $"no frame was sent while the broker was down, so the outages did not land: {rows}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
