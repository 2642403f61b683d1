using System.Reflection;
using Appliance.Contracts;
using Appliance.Inference;
using Appliance.Profiles;

namespace Appliance.Daemon.Device;

/// <summary>
/// Who this daemon is: the device id, its fleet group, the validated profile, the execution provider chosen from the profile's chain,
/// the version and the start time. Built once at start-up; immutable.
/// </summary>
internal sealed class DeviceContext
{
    public DeviceContext(string deviceId, string? fleetGroup, DeviceProfile profile, ExecutionProviderChoice executionProvider, DateTimeOffset startedAt)
    {
        DeviceId = deviceId;
        FleetGroup = fleetGroup;
        Profile = profile;
        ExecutionProvider = executionProvider;
        StartedAt = startedAt;
    }

    public string DeviceId { get; }

    /// <summary>The fleet group this hub takes its turn in (<c>Fleet:Group</c>), or null for a device on its own.</summary>
    public string? FleetGroup { get; }

    public DeviceProfile Profile { get; }

    public ExecutionProviderChoice ExecutionProvider { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>The daemon's version (semantic version, no build metadata).</summary>
    public static string DaemonVersion { get; } = typeof(DeviceContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public ProfileSummary ProfileSummary => new(Profile.Name, $"{Profile.Soc.Vendor} {Profile.Soc.Model}", Profile.MemoryBudgetMb);

    public ExecutionProviderStatus ExecutionProviderStatus =>
        new(ExecutionProvider.Chosen.Name, [.. ExecutionProvider.Skipped.Select(s => new SkippedExecutionProvider(s.Name, s.Reason))]);

    /// <summary>The document the last will and an orderly stop leave on the status topic.</summary>
    public StatusDocument Offline(string reason, DateTimeOffset? at = null) => new()
    {
        Online = false,
        DeviceId = DeviceId,
        Version = DaemonVersion,
        Profile = ProfileSummary,
        FleetGroup = FleetGroup,
        Reason = reason,
        UpdatedAt = at,
    };
}
