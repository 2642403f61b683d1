using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;

namespace Appliance.Daemon.Tests;

public sealed class StartupTests
{
    [Fact]
    public async Task A_broken_profile_stops_start_up_with_a_clear_message_and_a_non_zero_exit()
    {
        var broken = TestProfiles.Write(p => p["threads"]!["intraOp"] = 0);
        await using var daemon = DaemonProcess.Start($"--profile", broken, "--Mqtt:Broker:Port=0");

        var exitCode = await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(2, exitCode);
        Assert.Contains($"{broken}: /threads/intraOp: 0 is below the minimum of 1", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_profile_name_is_refused()
    {
        await using var daemon = DaemonProcess.Start("--profile", "toaster-9000", "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("toaster-9000.json: /: cannot read the profile", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_invalid_setting_is_refused_before_anything_runs()
    {
        await using var daemon = DaemonProcess.Start("--Rpc:MaxConcurrent=0", "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("MaxConcurrent", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_default_profile_reaches_ready_and_says_how_it_is_reachable()
    {
        await using var daemon = DaemonProcess.Start("--Mqtt:Broker:Port=0", "--Device:Id=ready-test");

        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));

        // The broker bound a port the OS picked; the ready line names it, and a client reaches the daemon there.
        var ready = daemon.Output.Split(Environment.NewLine).First(l => l.Contains("Ready in", StringComparison.Ordinal));
        var match = System.Text.RegularExpressions.Regex.Match(ready, "embedded broker on 127\\.0\\.0\\.1:([0-9]+)");
        Assert.True(match.Success, ready);
        Assert.Contains("connected True", ready, StringComparison.Ordinal);
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), DeviceId = "ready-test" });
        Assert.True((await client.InvokeAsync(RpcMethods.StatusGet, EmptyParams.Instance)).Value!.Online);
    }
}
