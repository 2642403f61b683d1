using Appliance.Contracts;
using Appliance.Inference;
using Appliance.Profiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Device;

/// <summary>The <c>Device</c> configuration section.</summary>
internal sealed class DeviceOptions
{
    public const string Section = "Device";

    /// <summary>Overrides the profile's device id.</summary>
    public string? Id { get; set; }
}

/// <summary>The <c>Models</c> configuration section.</summary>
internal sealed class ModelsOptions
{
    public const string Section = "Models";

    /// <summary>Folder that the profile's relative model paths are resolved against.</summary>
    public string Root { get; set; } = "models";
}

/// <summary>The device itself: who it is (<see cref="DeviceContext"/>), its health and load, its clock and where its models are.</summary>
internal static class DeviceFeature
{
    /// <summary>
    /// Resolves the device id (the <c>Device:Id</c> setting, else the profile's, else the host name) and registers the
    /// device's context, health monitor, clock, inference settings and model paths, and the native heap's tuning and trimming.
    /// </summary>
    /// <returns>Null, or why the device id is not usable.</returns>
    public static string? AddDevice(this IServiceCollection services, IConfiguration configuration, DeviceProfile profile)
    {
        var deviceId = configuration.GetSection(DeviceOptions.Section).Get<DeviceOptions>()?.Id is { Length: > 0 } configured ? configured : profile.DeviceId ?? DeviceIdFromHostName();
        if (!Identifiers.IsValidDeviceId(deviceId))
        {
            return $"Device:Id '{deviceId}' is not a valid device id: use {Identifiers.DeviceIdDescription}.";
        }

        // The heap is tuned here, while the host is built: before any model loads, and before inference's threads
        // create the malloc arenas that a limit would no longer reach. Out-of-range values fail the start at validation.
        var memory = configuration.GetSection(MemoryOptions.Section).Get<MemoryOptions>() ?? new MemoryOptions();
        NativeHeap.Tune(Math.Max(0, memory.MallocArenas), Math.Max(0, memory.MmapThresholdBytes));
        var inference = InferenceSettings.FromProfile(profile) with { CpuMemoryArena = memory.CpuArena };
        var executionProvider = ExecutionProviderSelector.Choose(profile.ExecutionProviders, inference.InstalledProviders());
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton(sp => new DeviceContext(
            deviceId,
            sp.GetRequiredService<IOptions<Rpc.FleetOptions>>().Value.Group is { Length: > 0 } group ? group : null,
            profile,
            executionProvider,
            sp.GetRequiredService<TimeProvider>().GetUtcNow()));
        services.AddSingleton<HealthMonitor>();
        services.AddSingleton<DeviceMetrics>();
        services.AddMetricsExport(configuration, deviceId, DeviceContext.DaemonVersion);
        services.AddSingleton(inference);
        services.Configure<ModelsOptions>(configuration.GetSection(ModelsOptions.Section));
        services.AddKnownSection<ModelsOptions>(ModelsOptions.Section);
        services.AddKnownSection<DeviceOptions>(DeviceOptions.Section);
        services.AddSingleton(sp => new ModelPaths(sp.GetRequiredService<IOptions<ModelsOptions>>().Value.Root));
        services.AddValidatedOptions<MemoryOptions, MemoryOptionsValidator>(configuration, MemoryOptions.Section);
        services.AddHostedService<NativeHeapTrimmer>();
        return null;
    }

    private static string DeviceIdFromHostName()
    {
        var cleaned = new string([.. Environment.MachineName.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        return cleaned.Length is > 0 and <= Identifiers.MaxLength ? cleaned : "appliance";
    }
}
