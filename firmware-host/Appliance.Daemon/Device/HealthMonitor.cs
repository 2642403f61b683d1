using System.Collections.Concurrent;
using Appliance.Contracts;
using Appliance.Inference;

namespace Appliance.Daemon.Device;

/// <summary>
/// Collects the health of the daemon's parts (MQTT connection, models, sensors, memory). Parts report with
/// <see cref="Report"/>; readers get a snapshot. Thread-safe.
/// </summary>
internal sealed class HealthMonitor(DeviceContext device)
{
    private readonly ConcurrentDictionary<string, HealthCheck> _checks = new(StringComparer.Ordinal);

    /// <summary>Raised after a check changes status (not on every report).</summary>
    public event Action? Changed;

    /// <summary>Sets a check; <paramref name="status"/> is <see cref="HealthStatus.Ok"/> or <see cref="HealthStatus.Degraded"/>.</summary>
    public void Report(string check, string status, string? detail = null)
    {
        var next = new HealthCheck(status, detail);
        var previous = _checks.GetValueOrDefault(check);
        _checks[check] = next;
        if (previous?.Status != status)
        {
            Changed?.Invoke();
        }
    }

    public HealthReport Snapshot()
    {
        var checks = new SortedDictionary<string, HealthCheck>(_checks, StringComparer.Ordinal);
        var residentMb = ResidentMemory.Bytes() / (1024.0 * 1024.0);
        var budget = device.Profile.MemoryBudgetMb;
        checks["memory"] = new HealthCheck(residentMb <= budget ? HealthStatus.Ok : HealthStatus.Degraded, $"{residentMb:F0} MB resident of a {budget} MB budget");
        var status = checks.Values.All(c => c.Status == HealthStatus.Ok) ? HealthStatus.Ok : HealthStatus.Degraded;
        return new HealthReport(status, checks);
    }
}
