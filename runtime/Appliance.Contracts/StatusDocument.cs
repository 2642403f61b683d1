namespace Appliance.Contracts;

/// <summary>The retained document on <c>appliance/v1/{deviceId}/status</c>.</summary>
public sealed record StatusDocument
{
    public required bool Online { get; init; }
    public required string DeviceId { get; init; }
    public string? Version { get; init; }
    public ProfileSummary? Profile { get; init; }
    public DateTimeOffset? StartedAt { get; init; }
    public long? UptimeSeconds { get; init; }
    public IReadOnlyList<LoadedModel>? Models { get; init; }
    public ExecutionProviderStatus? ExecutionProvider { get; init; }
    public HealthReport? Health { get; init; }

    /// <summary>Why the device is offline: "shutdown" (orderly stop) or "connection lost" (the last will).</summary>
    public string? Reason { get; init; }
    public DateTimeOffset? UpdatedAt { get; init; }
}

public sealed record ProfileSummary(string Name, string Soc, int MemoryBudgetMb);

public sealed record LoadedModel(string Feature, string Id, string State, string? ExecutionProvider = null, string? Error = null);

/// <summary>The execution provider taken from the profile's chain, and the ones passed over with the reason.</summary>
public sealed record ExecutionProviderStatus(string Chosen, IReadOnlyList<SkippedExecutionProvider> Skipped);

public sealed record SkippedExecutionProvider(string Name, string Reason);

/// <summary>"ok" when every check passes, otherwise "degraded" with the failing checks named.</summary>
public sealed record HealthReport(string Status, IReadOnlyDictionary<string, HealthCheck> Checks);

public sealed record HealthCheck(string Status, string? Detail = null);
