using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>The short version of the full-disk campaign (the README's command runs 10 rounds on 4 MiB): the same checks, two rounds on 512 KiB.</summary>
public sealed class FullDiskCampaignTests
{
    [Fact]
    public async Task A_disk_filled_twice_refuses_with_storage_full_damages_nothing_and_recovers_after_a_delete()
    {
        var folder = Path.Combine(Path.GetTempPath(), "full-disk-campaign-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new FullDiskSettings(Rounds: 2, DiskKib: 512, MinFreeKib: 64, folder);

            var report = await FullDiskCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", FullDiskCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Rounds), rows);
            Assert.Equal(6, report.JournalsChecked);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
