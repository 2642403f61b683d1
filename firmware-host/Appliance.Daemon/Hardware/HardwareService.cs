using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Hardware;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// Drives the status LED from the broker connection (lit when connected, blinking while not) and turns debounced
/// push-to-talk presses into events on <c>voice/events</c>. Without usable GPIO the daemon runs on, and health says why.
/// Publishes from the button's timer thread go out one at a time on an owned task, awaited at stop.
/// </summary>
internal sealed class HardwareService(BoardHardware board, MqttConnection mqtt, DeviceContext device, HealthMonitor health, TimeProvider time, ILogger<HardwareService> logger) : IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _publishing = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is { } problem)
        {
            HardwareLog.GpioUnavailable(logger, problem);
            health.Report("gpio", HealthStatus.Degraded, problem);
            return Task.CompletedTask;
        }

        health.Report("gpio", HealthStatus.Ok, $"{board.Settings.Driver} chip {board.Settings.Chip}: button pin {board.Settings.PushToTalkPin}, LED pin {board.Settings.StatusLedPin}");
        board.StatusLed!.Show(mqtt.IsConnected ? LedPattern.On : LedPattern.Blink);
        mqtt.ConnectionChanged += OnConnectionChanged;
        board.PushToTalk!.Pressed += OnPressed;
        board.PushToTalk.Released += OnReleased;
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is null)
        {
            mqtt.ConnectionChanged -= OnConnectionChanged;
            board.PushToTalk!.Pressed -= OnPressed;
            board.PushToTalk.Released -= OnReleased;
            board.StatusLed!.Show(LedPattern.Off);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        Task publishing;
        lock (_gate)
        {
            publishing = _publishing;
        }

        await publishing.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnConnectionChanged(bool connected) => board.StatusLed!.Show(connected ? LedPattern.On : LedPattern.Blink);

    private void OnPressed(object? sender, EventArgs e) => Publish(PushToTalkEvent.Pressed);

    private void OnReleased(object? sender, EventArgs e) => Publish(PushToTalkEvent.Released);

    private void Publish(string state)
    {
        HardwareLog.PushToTalk(logger, state);
        var body = new PushToTalkEvent { State = state, At = time.GetUtcNow() };
        // Raised on a timer thread: chain the publish behind the previous one instead of blocking the timer; a lost
        // event is logged by the connection.
        lock (_gate)
        {
            _publishing = _publishing.ContinueWith(
                _ => mqtt.TryPublishAsync(Channels.VoiceEvents, Topics.VoiceEvents(device.DeviceId), body, _stopping.Token),
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default).Unwrap();
        }
    }

    public void Dispose() => _stopping.Dispose();
}
