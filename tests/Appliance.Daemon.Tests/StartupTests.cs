using Appliance.Contracts;
using Appliance.Inference;
using Appliance.Llm;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Configuration;
using Appliance.Daemon.Tests.Infrastructure;

namespace Appliance.Daemon.Tests;

public sealed class StartupTests
{
    /// <summary>
    /// ONNX Runtime's Linux builds carry a telemetry client that, unless told off before the library starts, keeps a
    /// device id and an event store under <c>~/.cache/Microsoft/DeveloperTools/.onnxruntime</c> and posts to a Microsoft
    /// collector. The daemon, started with a home of its own, is ready (its runtime environment made, where that client
    /// would start) and has left nothing there. <c>appliance-bench privacy-check</c> shows the sockets side.
    /// </summary>
    [Fact]
    public async Task The_runtimes_telemetry_is_off_and_leaves_no_store_in_the_home_folder()
    {
        var home = Directory.CreateTempSubdirectory("appliance-home-").FullName;
        try
        {
            await using var daemon = DaemonProcess.Start(new Dictionary<string, string> { ["HOME"] = home }, "--Mqtt:Broker:Port=0", "--Device:Id=home-check");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));

            Assert.Contains("execution provider CPUExecutionProvider", daemon.Output, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(home, "*", SearchOption.AllDirectories));
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

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
    public async Task A_broker_port_that_is_taken_stops_start_up_naming_the_port_and_its_setting()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Any, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        await using var daemon = DaemonProcess.Start($"--Mqtt:Broker:Port={port}", "--Device:Id=port-taken");

        Assert.Equal(1, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"appliance-daemon: could not start: the embedded broker cannot listen on 127.0.0.1:{port} (Mqtt:Broker:Port): ", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("BackgroundService failed", daemon.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("192.0.2.1")]
    [InlineData("2001:db8::1")]
    public async Task A_bind_address_the_machine_does_not_have_stops_start_up_naming_the_setting(string address)
    {
        // 192.0.2.0/24 and 2001:db8::/32 are documentation ranges, on no interface here.
        await using var daemon = DaemonProcess.Start($"--Mqtt:Broker:BindAddress={address}", "--Mqtt:Broker:Port=0", "--Device:Id=no-address");

        Assert.Equal(1, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains($"appliance-daemon: could not start: the embedded broker cannot listen on {address} (Mqtt:Broker:BindAddress): ", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_profile_name_is_refused()
    {
        await using var daemon = DaemonProcess.Start("--profile", "toaster-9000", "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("toaster-9000.json: /: cannot read the profile", daemon.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Rpc:MaxConcurrent=0", "MaxConcurrent")]
    [InlineData("--Memory:TrimIntervalSeconds=-1", "TrimIntervalSeconds")]
    [InlineData("--Memory:MallocArenas=65", "MallocArenas")]
    [InlineData("--Memory:MmapThresholdBytes=33554433", "MmapThresholdBytes")]
    public async Task An_invalid_setting_is_refused_before_anything_runs(string setting, string named)
    {
        await using var daemon = DaemonProcess.Start(setting, "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(named, daemon.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Llm:Spinning=Bogus", "'Bogus' at 'Llm:Spinning'", "Bogus is not a valid value for SpinPolicy")]
    [InlineData("--Llm:MaxConcurrency=two", "'two' at 'Llm:MaxConcurrency'", "'two' was not in a correct format")]
    [InlineData("--Mqtt:Mode=Bogus", "at 'Mqtt:Mode'", "Requested value 'Bogus' was not found")]
    [InlineData("--Metrics:PrometheusPort=abc", "'abc' at 'Metrics:PrometheusPort'", "'abc' was not in a correct format")]
    [InlineData("--Ota:CheckIntervalMinutes=soon", "'soon' at 'Ota:CheckIntervalMinutes'", "'soon' was not in a correct format")]
    public async Task A_setting_of_the_wrong_type_is_refused_with_its_key_and_value(string setting, string named, string reason)
    {
        await using var daemon = DaemonProcess.Start(setting, "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("refusing to start, the configuration is invalid", daemon.Output, StringComparison.Ordinal);
        Assert.Contains(named, daemon.Output, StringComparison.Ordinal);
        Assert.Contains(reason, daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Hosting failed to start", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// The sections bound through options are checked together, with the unknown keys. (A section read while the
    /// features register, such as <c>Memory</c> or <c>Ota</c>, stops the start at its own first bad value.)
    /// </summary>
    [Fact]
    public async Task Values_of_the_wrong_type_in_several_sections_and_unknown_keys_are_all_named_at_once()
    {
        await using var daemon = DaemonProcess.Start("--Llm:CpuArena=maybe", "--Rpc:MaxConcurrent=many", "--Rpc:MaxConcurent=3", "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("'maybe' at 'Llm:CpuArena'", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("'many' at 'Rpc:MaxConcurrent'", daemon.Output, StringComparison.Ordinal);
        Assert.Contains("'Rpc:MaxConcurent' is not a setting of the Rpc section", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_spin_policy_given_as_a_number_outside_the_policies_is_refused()
    {
        await using var daemon = DaemonProcess.Start("--Llm:Spinning=7", "--Mqtt:Broker:Port=0");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("Spinning", daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A broker account confined to a device must name a valid device id: <c>+</c> would have matched every device's
    /// topics in the broker's access control.
    /// </summary>
    [Fact]
    public async Task A_broker_account_confined_to_a_device_id_that_is_not_one_is_refused()
    {
        await using var daemon = DaemonProcess.Start(
            "--Mqtt:Broker:Port=0",
            "--Mqtt:Broker:Authentication:Enabled=true",
            "--Mqtt:Broker:Authentication:Users:0:Username=tv",
            "--Mqtt:Broker:Authentication:Users:0:Password=secret",
            "--Mqtt:Broker:Authentication:Users:0:DeviceId=+");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("a broker account's DeviceId must be a device id", daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// A key the daemon does not know is a start-up error that names it, wherever it comes from: a typo in a security
    /// setting must not leave the default in force. Environment variables outside the daemon's sections are not its own.
    /// </summary>
    [Fact]
    public async Task An_unknown_setting_is_refused_from_the_command_line_the_environment_and_a_settings_file()
    {
        await using var commandLine = DaemonProcess.Start("--Mqtt:Broker:Authentcation:Enabled=true", "--Mqtt:Broker:Port=0");
        await using var environment = DaemonProcess.Start(new Dictionary<string, string> { ["Mqtt__Broker__Prot"] = "1884", ["SOME_OTHER_PROGRAM__SETTING"] = "x" }, "--Mqtt:Broker:Port=0");
        var file = Path.Combine(Path.GetTempPath(), $"appliance-settings-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "Rpc": { "MaxConcurent": 8 }, "Meeting": { "Root": "x" } }""");
        try
        {
            var fromFile = DaemonHost.Build(["--Mqtt:Broker:Port=0"], builder => builder.Configuration.AddJsonFile(file));

            Assert.Equal(2, await commandLine.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("the command line: 'Mqtt:Broker:Authentcation:Enabled' is not a setting of the Mqtt section", commandLine.Output, StringComparison.Ordinal);
            Assert.Equal(2, await environment.WaitForExitAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("the environment: 'Mqtt:Broker:Prot' is not a setting of the Mqtt section", environment.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("SOME_OTHER_PROGRAM", environment.Output, StringComparison.Ordinal);
            Assert.False(fromFile.Succeeded);
            Assert.Contains(fromFile.Problems, p => p.Contains("'Rpc:MaxConcurent' is not a setting of the Rpc section", StringComparison.Ordinal));
            Assert.Contains(fromFile.Problems, p => p.Contains("'Meeting:Root' is not a setting the daemon knows", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>
    /// ONNX Runtime's CPU arena is set apart for the language models (<c>Llm:CpuArena</c>, in the one
    /// <see cref="LlmServiceOptions"/> the service and an update's smoke test are both given) and for the speech
    /// sessions (<c>Memory:CpuArena</c>).
    /// </summary>
    [Theory]
    [InlineData("--Llm:CpuArena=false", false, true)]
    [InlineData("--Memory:CpuArena=false", true, false)]
    [InlineData("--Device:Id=arena-defaults", true, true)]
    public void The_CPU_arena_settings_reach_the_language_models_and_the_speech_sessions_apart(string setting, bool languageModels, bool speech)
    {
        var built = DaemonHost.Build(["--Mqtt:Broker:Port=0", setting]);

        Assert.True(built.Succeeded, string.Join("; ", built.Problems));
        using var host = built.Host!;
        Assert.Equal(languageModels, host.Services.GetRequiredService<LlmServiceOptions>().Inference.CpuMemoryArena);
        Assert.Equal(speech, host.Services.GetRequiredService<InferenceSettings>().CpuMemoryArena);
    }

    /// <summary>The settings file is read once: no file watcher (an inotify instance a board may not have to spare) is made.</summary>
    [Fact]
    public void The_settings_file_is_not_watched()
    {
        var built = DaemonHost.Build(["--Mqtt:Broker:Port=0", "--Device:Id=watch-test"]);

        Assert.True(built.Succeeded, string.Join("; ", built.Problems));
        using var host = built.Host!;
        var configuration = (Microsoft.Extensions.Configuration.IConfigurationRoot)host.Services.GetService(typeof(Microsoft.Extensions.Configuration.IConfiguration))!;
        var json = configuration.Providers.OfType<Microsoft.Extensions.Configuration.Json.JsonConfigurationProvider>().ToList();
        Assert.NotEmpty(json);
        Assert.All(json, p => Assert.False(p.Source.ReloadOnChange, p.Source.Path));
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
