using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Hardware;

/// <summary>The hardware feature's log messages (event ids 4000–4004).</summary>
internal static partial class HardwareLog
{
    [LoggerMessage(4000, LogLevel.Information, "Push-to-talk {State}")]
    public static partial void PushToTalk(ILogger logger, string state);

    [LoggerMessage(4001, LogLevel.Warning, "Sensor {Sensor} read failed ({Code}: {Detail}); {Failures} in a row")]
    public static partial void SensorReadFailed(ILogger logger, string sensor, string code, string detail, int failures);

    [LoggerMessage(4002, LogLevel.Warning, "GPIO unavailable, running without the button, the LED and the door contacts: {Problem}")]
    public static partial void GpioUnavailable(ILogger logger, string problem);

    [LoggerMessage(4003, LogLevel.Warning, "Sensor {Sensor} unavailable: {Problem}")]
    public static partial void SensorUnavailable(ILogger logger, string sensor, string problem);

    [LoggerMessage(4004, LogLevel.Information, "Door {Door} {State}")]
    public static partial void Door(ILogger logger, string door, string state);
}
