using System.Device.Gpio;
using System.Device.Gpio.Drivers;
using Appliance.Profiles;

namespace Appliance.Hardware;

/// <summary>Opens the GPIO chip a profile names. The caller owns the controller (and through it the driver).</summary>
public static class GpioControllerFactory
{
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
