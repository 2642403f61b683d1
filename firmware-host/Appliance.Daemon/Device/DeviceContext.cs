using System.Reflection;
using Appliance.Contracts;
using Appliance.Inference;
using Appliance.Profiles;

namespace Appliance.Daemon.Device;

/// <summary>
/// Who this daemon is: the device id, the validated profile, the execution provider chosen from the profile's chain,
/// the version and the start time. Built once at start-up; immutable.
/// </summary>
internal sealed class DeviceContext
{
    public DeviceContext(string deviceId, DeviceProfile profile, ExecutionProviderChoice executionProvider, DateTimeOffset startedAt)
    {
        DeviceId = deviceId;
        Profile = profile;
        ExecutionProvider = executionProvider;
        StartedAt = startedAt;
        Version = typeof(DeviceContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";
    }

    public string DeviceId { get; }

    public DeviceProfile Profile { get; }

    public ExecutionProviderChoice ExecutionProvider { get; }

    public DateTimeOffset StartedAt { get; }

    public string Version { get; }

    public ProfileSummary ProfileSummary => new(Profile.Name, $"{Profile.Soc.Vendor} {Profile.Soc.Model}", Profile.MemoryBudgetMb);

    public ExecutionProviderStatus ExecutionProviderStatus =>
        new(ExecutionProvider.Chosen.Name, [.. ExecutionProvider.Skipped.Select(s => new SkippedExecutionProvider(s.Name, s.Reason))]);

    /// <summary>The document the last will and an orderly stop leave on the status topic.</summary>
    public StatusDocument Offline(string reason, DateTimeOffset? at = null) => new()
    {
        Online = false,
        DeviceId = DeviceId,
        Version = Version,
        Profile = ProfileSummary,
        Reason = reason,
        UpdatedAt = at,
    };
}
