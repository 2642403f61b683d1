using System.Device.Gpio;
using Appliance.Hardware;
using Appliance.Profiles;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// The board's GPIO as the profile describes it: the status LED and the push-to-talk button on one
/// controller, real or simulated. <see cref="Simulator"/> is set when the profile selects the simulated
/// driver, so tests and demos can press the button and read the LED. Owns the controller.
/// </summary>
public sealed class BoardHardware : IDisposable
{
    private readonly GpioController _controller;

    public BoardHardware(DeviceProfile profile, TimeProvider time)
    {
        var gpio = profile.Gpio;
        _controller = GpioControllerFactory.Create(gpio, out var simulator);
        Simulator = simulator;
        StatusLed = new StatusLed(_controller, gpio.StatusLedPin, time);
        PushToTalk = new PushToTalkButton(_controller, gpio.PushToTalkPin, gpio.ButtonActiveLow, TimeSpan.FromMilliseconds(gpio.DebounceMs), time);
        Settings = gpio;
    }

    public GpioSettings Settings { get; }

    public StatusLed StatusLed { get; }

    public PushToTalkButton PushToTalk { get; }

    public SimulatedGpioDriver? Simulator { get; }

    public void Dispose()
    {
        PushToTalk.Dispose();
        StatusLed.Dispose();
        _controller.Dispose();
    }
}
