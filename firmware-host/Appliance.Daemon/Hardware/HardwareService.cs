using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Status;
using Appliance.Hardware;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// Drives the status LED from the broker connection (lit when connected, blinking while not) and turns
/// debounced push-to-talk presses into events on <c>voice/events</c>. Without usable GPIO the daemon runs
/// on, and health says why.
/// </summary>
internal sealed class HardwareService(BoardHardware board, MqttConnection mqtt, DeviceContext device, HealthMonitor health, TimeProvider time, ILogger<HardwareService> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is { } problem)
        {
            Log.GpioUnavailable(logger, problem);
            health.Report("gpio", HealthMonitor.Degraded, problem);
            return Task.CompletedTask;
        }

        health.Report("gpio", HealthMonitor.Ok, $"{board.Settings.Driver} chip {board.Settings.Chip}: button pin {board.Settings.PushToTalkPin}, LED pin {board.Settings.StatusLedPin}");
        board.StatusLed!.Show(mqtt.IsConnected ? LedPattern.On : LedPattern.Blink);
        mqtt.ConnectionChanged += OnConnectionChanged;
        board.PushToTalk!.Pressed += OnPressed;
        board.PushToTalk.Released += OnReleased;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is not null)
        {
            return Task.CompletedTask;
        }

        mqtt.ConnectionChanged -= OnConnectionChanged;
        board.PushToTalk!.Pressed -= OnPressed;
        board.PushToTalk.Released -= OnReleased;
        board.StatusLed!.Show(LedPattern.Off);
        return Task.CompletedTask;
    }

    private void OnConnectionChanged(bool connected) => board.StatusLed!.Show(connected ? LedPattern.On : LedPattern.Blink);

    private void OnPressed(object? sender, EventArgs e) => Publish("pressed");

    private void OnReleased(object? sender, EventArgs e) => Publish("released");

    private void Publish(string state)
    {
        Log.PushToTalk(logger, state);
        var body = new { type = "push_to_talk", state, at = time.GetUtcNow() };
        // Raised on a timer thread: publish without blocking it; a lost event is logged by the connection.
        _ = mqtt.TryPublishJsonAsync(Topics.VoiceEvents(device.DeviceId), body, MqttQualityOfServiceLevel.AtLeastOnce, retain: false, CancellationToken.None);
    }
}
