using System.Collections.Concurrent;
using System.Diagnostics;
using Appliance.Contracts;

namespace Appliance.Daemon.Status;

/// <summary>
/// Collects the health of the daemon's parts (MQTT connection, sensors, memory). Parts report with
/// <see cref="Report"/>; readers get a snapshot. Thread-safe.
/// </summary>
public sealed class HealthMonitor(DeviceContext device)
{
    public const string Ok = "ok";
    public const string Degraded = "degraded";

    private readonly ConcurrentDictionary<string, HealthCheck> _checks = new(StringComparer.Ordinal);

    /// <summary>Raised after a check changes status (not on every report).</summary>
    public event Action? Changed;

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
        using var process = Process.GetCurrentProcess();
        var residentMb = process.WorkingSet64 / (1024.0 * 1024.0);
        var budget = device.Profile.MemoryBudgetMb;
        checks["memory"] = new HealthCheck(residentMb <= budget ? Ok : Degraded, $"{residentMb:F0} MB resident of a {budget} MB budget");
        var status = checks.Values.All(c => c.Status == Ok) ? Ok : Degraded;
        return new HealthReport(status, checks);
    }
}
