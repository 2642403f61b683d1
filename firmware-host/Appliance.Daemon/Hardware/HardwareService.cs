using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Hardware;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// Drives the status LED from the broker connection (lit when connected, blinking while not), turns debounced
/// push-to-talk presses into events on <c>voice/events</c>, and publishes each door's state on <c>telemetry</c> at
/// start, at every change, at every connection to the broker and every <see cref="DoorRefresh"/> (telemetry is not
/// retained), kept in <see cref="SensorReadings"/> for questions about the doors. Without usable GPIO
/// the daemon runs on, and health says why. Publishes from the switches' timer threads go out one at a time on an
/// owned task, awaited at stop.
/// </summary>
internal sealed class HardwareService(BoardHardware board, MqttConnection mqtt, DeviceContext device, HealthMonitor health, SensorReadings readings, TimeProvider time, ILogger<HardwareService> logger) : IHostedService, IDisposable
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<(DebouncedSwitch Contact, EventHandler Changed)> _doorHandlers = [];
    private Task _publishing = Task.CompletedTask;
    private ITimer? _doorRefresh;

    /// <summary>How often each door's state is published again while it does not change.</summary>
    public static readonly TimeSpan DoorRefresh = TimeSpan.FromSeconds(60);

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is { } problem)
        {
            HardwareLog.GpioUnavailable(logger, problem);
            health.Report("gpio", HealthStatus.Degraded, problem);
            return Task.CompletedTask;
        }

        health.Report("gpio", HealthStatus.Ok, $"{board.Settings.Driver} chip {board.Settings.Chip}: button pin {board.Settings.PushToTalkPin}, LED pin {board.Settings.StatusLedPin}{string.Concat(board.Doors.Select(d => $", door {d.Spec.Id} pin {d.Spec.Pin}"))}");
        board.StatusLed!.Show(mqtt.IsConnected ? LedPattern.On : LedPattern.Blink);
        mqtt.ConnectionChanged += OnConnectionChanged;
        board.PushToTalk!.Closed += OnPressed;
        board.PushToTalk.Opened += OnReleased;
        foreach (var (spec, contact) in board.Doors)
        {
            EventHandler changed = (_, _) =>
            {
                HardwareLog.Door(logger, spec.Id, contact.IsClosed ? "closed" : "open");
                PublishDoor(spec.Id, contact);
            };
            contact.Closed += changed;
            contact.Opened += changed;
            _doorHandlers.Add((contact, changed));
        }

        if (board.Doors.Count > 0)
        {
            PublishDoors();
            mqtt.OnConnected(_ =>
            {
                PublishDoors();
                return Task.CompletedTask;
            });
            _doorRefresh = time.CreateTimer(_ => PublishDoors(), null, DoorRefresh, DoorRefresh);
        }

        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (board.Problem is null)
        {
            mqtt.ConnectionChanged -= OnConnectionChanged;
            board.PushToTalk!.Closed -= OnPressed;
            board.PushToTalk.Opened -= OnReleased;
            foreach (var (contact, changed) in _doorHandlers)
            {
                contact.Closed -= changed;
                contact.Opened -= changed;
            }

            _doorRefresh?.Dispose();

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
        Enqueue(() => mqtt.TryPublishAsync(Channels.VoiceEvents, Topics.VoiceEvents(device.DeviceId), body, _stopping.Token));
    }

    private void PublishDoors()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        foreach (var (spec, contact) in board.Doors)
        {
            PublishDoor(spec.Id, contact);
        }
    }

    /// <summary>Keeps the door's state as its latest reading and publishes it.</summary>
    private void PublishDoor(string doorId, DebouncedSwitch contact)
    {
        var reading = new TelemetryReading { Sensor = doorId, Type = TelemetryReading.DoorType, At = time.GetUtcNow(), Open = !contact.IsClosed };
        readings.Record(reading);
        Enqueue(() => mqtt.TryPublishAsync(Channels.Telemetry, Topics.Telemetry(device.DeviceId), reading, _stopping.Token));
    }

    /// <summary>
    /// Raised on a timer thread: chains the publish behind the previous one instead of blocking the timer; a lost
    /// message is logged by the connection.
    /// </summary>
    private void Enqueue(Func<Task<bool>> publish)
    {
        lock (_gate)
        {
            _publishing = _publishing.ContinueWith(_ => publish(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default).Unwrap();
        }
    }

    public void Dispose()
    {
        _doorRefresh?.Dispose();
        _stopping.Dispose();
    }
}
