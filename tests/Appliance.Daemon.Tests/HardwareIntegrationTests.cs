using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Hardware;
using Appliance.Daemon.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>The daemon with the dev-x64 profile's simulated button, LED and climate sensor.</summary>
public sealed class HardwareIntegrationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_bouncing_push_to_talk_press_gives_one_pressed_and_one_released_event()
    {
        // The debounce timer runs on the test's clock: the contact bounces, and only after the quiet time does an event go out.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, customize: RunningDaemon.WithClock(time));
        await using var client = await daemon.ConnectAsync();
        var board = daemon.Service<BoardHardware>();
        var debounce = TimeSpan.FromMilliseconds(board.Settings.DebounceMs);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await using var subscription = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId), timeout.Token);
        await using var events = subscription.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        board.Simulator!.PressButton(board.Settings.PushToTalkPin);
        var first = events.MoveNextAsync();
        time.Advance(debounce - TimeSpan.FromMilliseconds(1));
        Assert.False(first.IsCompleted, "nothing before the contact has been quiet for the debounce time");
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await first);
        var pressed = Assert.IsType<PushToTalkEvent>(events.Current.Deserialize<VoiceEvent>());
        board.Simulator.ReleaseButton(board.Settings.PushToTalkPin);
        var second = events.MoveNextAsync();
        time.Advance(debounce);
        Assert.True(await second);
        var released = Assert.IsType<PushToTalkEvent>(events.Current.Deserialize<VoiceEvent>());

        Assert.Equal(("pressed", "released"), (pressed.State, released.State));
        Assert.Equal(time.GetUtcNow(), released.At);
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
