using System.Device.Gpio;
using Appliance.Hardware;
using Appliance.Profiles;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// The board's GPIO as the profile describes it: the status LED, the push-to-talk button and the door contacts on
/// one controller, real or simulated (where every door starts shut). When the chip cannot be opened (wrong board, missing driver, no
/// permission) the daemon runs without them and <see cref="Problem"/> says why. <see cref="Simulator"/> is
/// set when the profile selects the simulated driver, so tests and demos can press the button and read the
/// LED. Owns the controller.
/// </summary>
internal sealed class BoardHardware : IDisposable
{
    private readonly GpioController? _controller;

    public BoardHardware(DeviceProfile profile, TimeProvider time)
    {
        var gpio = profile.Gpio;
        Settings = gpio;
        var doors = new List<(DoorContactSpec, DebouncedSwitch)>();
        try
        {
            _controller = GpioControllerFactory.Create(gpio, out var simulator);
            Simulator = simulator;
            StatusLed = new StatusLed(_controller, gpio.StatusLedPin, time);
            PushToTalk = new DebouncedSwitch(_controller, gpio.PushToTalkPin, gpio.ButtonActiveLow, TimeSpan.FromMilliseconds(gpio.DebounceMs), time);
            foreach (var door in gpio.Doors)
            {
                simulator?.Drive(door.Pin, door.ActiveLow ? PinValue.Low : PinValue.High); // a simulated door starts shut
                doors.Add((door, new DebouncedSwitch(_controller, door.Pin, door.ActiveLow, TimeSpan.FromMilliseconds(gpio.DebounceMs), time)));
            }

            Doors = doors;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or DllNotFoundException or InvalidOperationException or ArgumentException)
        {
            // Nothing of the chip is used when part of it cannot be: the daemon runs without GPIO and health says why.
            foreach (var (_, contact) in doors)
            {
                contact.Dispose();
            }

            PushToTalk?.Dispose();
            StatusLed?.Dispose();
            _controller?.Dispose();
            _controller = null;
            PushToTalk = null;
            StatusLed = null;
            Problem = $"GPIO chip {gpio.Chip} ({gpio.Driver}) is not usable: {ex.Message}";
        }
    }

    public GpioSettings Settings { get; }

    public StatusLed? StatusLed { get; }

    public DebouncedSwitch? PushToTalk { get; }

    /// <summary>Each door of the profile with its contact (closed while the door is shut); empty when the GPIO is not usable.</summary>
    public IReadOnlyList<(DoorContactSpec Spec, DebouncedSwitch Contact)> Doors { get; } = [];

    public SimulatedGpioDriver? Simulator { get; }

    /// <summary>Why the GPIO could not be opened; null when it works.</summary>
    public string? Problem { get; }

    public void Dispose()
    {
        foreach (var (_, contact) in Doors)
        {
            contact.Dispose();
        }

        PushToTalk?.Dispose();
        StatusLed?.Dispose();
        _controller?.Dispose();
    }
}
