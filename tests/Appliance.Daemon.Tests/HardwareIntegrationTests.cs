using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Hardware;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>The daemon with the dev-x64 profile's simulated button, LED and climate sensor.</summary>
public sealed class HardwareIntegrationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_bouncing_push_to_talk_press_gives_one_pressed_and_one_released_event()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output);
        await using var client = await daemon.ConnectAsync();
        var board = daemon.Service<BoardHardware>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var events = client.ObserveAsync(Topics.VoiceEvents(daemon.DeviceId), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var first = events.MoveNextAsync();

        board.Simulator!.PressButton(board.Settings.PushToTalkPin);
        Assert.True(await first);
        var pressed = JsonDocument.Parse(events.Current.Payload).RootElement;
        board.Simulator.ReleaseButton(board.Settings.PushToTalkPin);
        Assert.True(await events.MoveNextAsync());
        var released = JsonDocument.Parse(events.Current.Payload).RootElement;

        Assert.Equal("push_to_talk", pressed.GetProperty("type").GetString());
        Assert.Equal("pressed", pressed.GetProperty("state").GetString());
        Assert.Equal("released", released.GetProperty("state").GetString());
        Assert.True(board.PushToTalk!.RawEdges > 2, "the simulated contact bounced");
    }

    [Fact]
    public async Task The_status_led_is_lit_while_connected_and_off_after_shutdown()
    {
        var daemon = await RunningDaemon.StartEmbeddedAsync(output);
        var board = daemon.Service<BoardHardware>();

        Assert.True(board.StatusLed!.IsLit);
        await daemon.DisposeAsync();

        Assert.False(board.Simulator!.Peek(board.Settings.StatusLedPin) == System.Device.Gpio.PinValue.High);
    }

    [Fact]
    public async Task Checksum_failures_are_published_as_errors_and_degrade_health_never_as_stale_values()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={TestProfiles.FastSensor()}", "--Simulation:ChecksumFailureRate=1"]);
        await using var client = await daemon.ConnectAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));

        var errors = 0;
        await foreach (var message in client.ObserveAsync(Topics.Telemetry(daemon.DeviceId), timeout.Token))
        {
            var body = JsonDocument.Parse(message.Payload).RootElement;
            Assert.False(body.TryGetProperty("temperatureC", out _), "a failed read must not carry a temperature");
            Assert.Equal("checksum_failed", body.GetProperty("error").GetProperty("code").GetString());
            if (++errors == 3)
            {
                break;
            }
        }

        var health = (await client.CallAsync("health.get")).Result!.Value;
        Assert.Equal("degraded", health.GetProperty("checks").GetProperty("sensor:climate").GetProperty("status").GetString());
        Assert.Equal("degraded", health.GetProperty("status").GetString());
    }
}
