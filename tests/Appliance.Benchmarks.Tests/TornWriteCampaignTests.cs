using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>The short version of the torn-write campaign (the README's command runs 100 rounds): the same checks, four rounds.</summary>
public sealed class TornWriteCampaignTests
{
    [Fact]
    public async Task Damaged_tails_after_kills_keep_every_record_before_the_damage_and_are_logged()
    {
        var folder = Path.Combine(Path.GetTempPath(), "torn-write-campaign-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new TornWriteSettings(Rounds: 4, Meetings: 3, MinRun: TimeSpan.FromSeconds(0.3), MaxRun: TimeSpan.FromSeconds(1), TailBytes: 4096, Seed: 5, folder);

            var report = await TornWriteCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", TornWriteCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Meetings), rows);
            Assert.Equal(4, report.Rounds);
            Assert.Equal(4 * 3, report.Damaged.Values.Sum());
            Assert.True(report.RecordsDropped > 0, $"no damage reached an audio record: {rows}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
