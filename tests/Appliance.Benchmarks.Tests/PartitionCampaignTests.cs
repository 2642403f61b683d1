using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>
/// The short version of the partition campaign (the README's command runs 10 cuts and 30 s each of a lossy link and a
/// bad one): the same checks, one short cut, one long and 8 s of each link. It creates a network namespace and a
/// netfilter queue, so it needs root (CAP_NET_ADMIN), iptables and libnetfilter-queue1, as CI has; elsewhere it fails
/// saying so.
/// </summary>
public sealed class PartitionCampaignTests
{
    [Fact]
    public async Task A_short_cut_keeps_the_session_a_long_one_gives_the_last_will_and_no_accepted_frame_is_lost()
    {
        var folder = Path.Combine(Path.GetTempPath(), "partition-campaign-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new PartitionSettings(Cuts: 2, Meetings: 2, KeepAliveSeconds: 4, Seed: 3, folder, ImpairedFor: TimeSpan.FromSeconds(8), LinkImpairment.Bad(seed: 3));

            var report = await PartitionCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", PartitionCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Meetings), rows);
            Assert.Equal((1, 1, 1), (report.ShortCuts, report.LongCuts, report.WillsOnLongCuts));
            Assert.InRange(report.LossyLink.Requests, 6, 9);
            Assert.True(report.BadLink.Packets is { Dropped: > 0, Delayed: > 0, Reordered: > 0 }, rows);
            Assert.True(report.GapFrames > 0, $"the long cut lost no frame, so it did not cut: {rows}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
