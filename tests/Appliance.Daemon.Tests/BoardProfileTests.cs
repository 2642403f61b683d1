using System.Text.Json;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>The real boards' profiles on a machine that has none of their hardware.</summary>
public sealed class BoardProfileTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("rk3588-tv")]
    [InlineData("rpi5-fridge")]
    [InlineData("qcs6490-earbud-hub")]
    public async Task A_board_profile_without_its_hardware_runs_degraded_and_says_why(string profile)
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", profile]);
        await using var client = await daemon.ConnectAsync();

        var health = (await client.CallAsync("health.get")).Result!.Value;
        var status = (await client.CallAsync("status.get")).Result!.Value;

        Assert.Equal(profile, status.GetProperty("profile").GetProperty("name").GetString());
        Assert.Equal("degraded", health.GetProperty("status").GetString());
        var gpio = health.GetProperty("checks").GetProperty("gpio");
        Assert.Equal("degraded", gpio.GetProperty("status").GetString());
        Assert.Contains("not usable", gpio.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("ok", health.GetProperty("checks").GetProperty("mqtt").GetProperty("status").GetString());
        // The chain's accelerators are not in this machine's ONNX Runtime: CPU is taken and the rest reported.
        Assert.Equal("CPUExecutionProvider", status.GetProperty("executionProvider").GetProperty("chosen").GetString());
        Assert.NotEqual(JsonValueKind.Undefined, status.GetProperty("executionProvider").GetProperty("skipped").ValueKind);
    }
}
