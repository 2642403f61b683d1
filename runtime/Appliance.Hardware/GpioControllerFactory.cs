using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using Appliance.Profiles;

namespace Appliance.Hardware;

/// <summary>Opens the GPIO chip a profile names. The caller owns the controller (and through it the driver).</summary>
public static class GpioControllerFactory
{
    /// <summary>Opens the controller of <see cref="GpioSettings.Driver"/>: the software chip, libgpiod on <see cref="GpioSettings.Chip"/>, or sysfs.</summary>
    /// <param name="settings">The profile's GPIO settings.</param>
    /// <param name="simulator">The software chip behind the controller when the driver is <c>simulated</c>, so tests and demos can press the button and read the LED; null otherwise.</param>
    /// <returns>A new controller with no pins open.</returns>
    /// <exception cref="ArgumentException">The driver is not <c>simulated</c>, <c>libgpiod</c> or <c>sysfs</c>.</exception>
    /// <exception cref="PlatformNotSupportedException">The driver is <c>libgpiod</c> and the libgpiod library is not installed.</exception>
    /// <exception cref="IOException">The driver is <c>sysfs</c> and <c>/sys/class/gpio</c> is missing.</exception>
    public static GpioController Create(GpioSettings settings, out SimulatedGpioDriver? simulator)
    {
        simulator = null;
        switch (settings.Driver)
        {
            case "simulated":
                simulator = new SimulatedGpioDriver();
                return new GpioController(simulator);
            case "libgpiod":
                return new GpioController(new LibGpiodDriver(settings.Chip));
            case "sysfs":
                return new GpioController(new SysFsDriver());
            default:
                throw new ArgumentException($"Unknown GPIO driver {settings.Driver}.", nameof(settings));
        }
    }
}
