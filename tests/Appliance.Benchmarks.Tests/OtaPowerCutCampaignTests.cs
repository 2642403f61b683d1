using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>The short version of the OTA power-cut campaign (the README's command runs 1,000 cycles): the same checks, 50 cycles.</summary>
public sealed class OtaPowerCutCampaignTests
{
    [Fact]
    public async Task Fifty_updates_cut_by_sigkill_in_every_stage_always_restart_on_a_working_model_set()
    {
        var folder = Path.Combine(Path.GetTempPath(), "ota-power-cut-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var settings = new OtaPowerCutSettings(Cycles: 50, TruncateShare: 0.3, MirrorBytesPerSecond: 256 * 1024, Seed: 11, folder);

            var report = await OtaPowerCutCampaign.RunAsync(settings, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", OtaPowerCutCampaignCommand.Rows(report, settings).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed(settings.Cycles), rows);
            Assert.Equal(50, report.Cycles);
            foreach (var stage in (string[])["downloading", "installing", "smoke_test", "restarted"])
            {
                Assert.True(report.KillsByStage.GetValueOrDefault(stage) > 0, $"no kill landed in {stage}: {rows}");
            }

            Assert.True(report.Truncations > 0, rows);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
