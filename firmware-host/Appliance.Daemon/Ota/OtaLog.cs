using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Ota;

/// <summary>The OTA feature's log messages (event ids 8000–8009).</summary>
internal static partial class OtaLog
{
    [LoggerMessage(8000, LogLevel.Warning, "Rolled back to the previous models at start: {Reason}")]
    public static partial void RolledBackAtStart(ILogger logger, string reason);

    [LoggerMessage(8001, LogLevel.Information, "Update {Stage}: bundle {Bundle} release {Release}")]
    public static partial void Stage(ILogger logger, string stage, string? bundle, int? release);

    [LoggerMessage(8002, LogLevel.Warning, "Update refused ({Code}): {Reason}")]
    public static partial void Refused(ILogger logger, string code, string reason);

    [LoggerMessage(8003, LogLevel.Warning, "Restarting into the {What}")]
    public static partial void Restarting(ILogger logger, string what);

    [LoggerMessage(8004, LogLevel.Information, "Health window passed: bundle {Bundle} release {Release} stays ({Why})")]
    public static partial void Committed(ILogger logger, string? bundle, int release, string why);

    [LoggerMessage(8005, LogLevel.Warning, "Health window failed, rolling back: {Reason}")]
    public static partial void HealthWindowFailed(ILogger logger, string reason);

    [LoggerMessage(8007, LogLevel.Warning, "The update slots' state was damaged on the disk: {Problem}")]
    public static partial void StateDamaged(ILogger logger, string problem);

    [LoggerMessage(8008, LogLevel.Information, "Update downloading: bundle {Bundle} release {Release}, {File}, at byte {Bytes} of the bundle's {TotalBytes}")]
    public static partial void Downloading(ILogger logger, string? file, string? bundle, int? release, long bytes, long totalBytes);

    [LoggerMessage(8009, LogLevel.Information, "Checking for updates every {Minutes} minutes")]
    public static partial void Scheduled(ILogger logger, int minutes);

    [LoggerMessage(8006, LogLevel.Warning, "Update failed unexpectedly")]
    public static partial void Failed(ILogger logger, Exception exception);
}
