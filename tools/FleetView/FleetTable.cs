using System.Globalization;
using Appliance.Contracts;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Appliance.FleetView;

/// <summary>
/// Draws a fleet group as a table: one row per device, offline ones with their reason. The documents come from other
/// devices, so any field may be missing (a device of another version, a broken one): what is missing shows as "-".
/// </summary>
internal static class FleetTable
{
    /// <summary>The table for <paramref name="fleet"/>; ages are counted to <paramref name="now"/>.</summary>
    public static Table Render(FleetStatusResult fleet, DateTimeOffset now)
    {
        var table = new Table { Title = new TableTitle($"fleet {Markup.Escape(fleet.Group)}: {fleet.Devices.Count(d => d.Online)} of {fleet.Devices.Count} online") };
        table.AddColumns("device", "state", "version", "profile", "models", "health", "meetings", "requests", "CPU", "updated");
        foreach (var device in fleet.Devices)
        {
            table.AddRow(
                new Text(device.DeviceId ?? "?"),
                device.Online ? new Markup("[green]online[/]") : new Markup($"[red]offline[/] {Markup.Escape(device.Reason ?? "")}"),
                new Text(device.Version ?? "?"),
                new Text(device.Profile?.Name ?? "?"),
                Models(device.Models),
                Health(device.Health),
                new Text(device.Load is { } load ? $"{load.Meetings}/{load.MeetingCapacity}" : "-"),
                new Text(device.Load is { } l ? $"{l.RpcRunning} running, {l.RpcQueued} queued" : "-"),
                new Text(device.Load is { } c ? string.Create(CultureInfo.InvariantCulture, $"{c.CpuPercent:0.#} %") : "-"),
                new Text(device.UpdatedAt is { } at ? Age(now - at) : "?"));
        }

        return table;
    }

    private static Markup Models(IReadOnlyList<StatusModel?>? models) =>
        models?.OfType<StatusModel>().ToList() is { Count: > 0 } listed
            ? new Markup(string.Join('\n', listed.Select(m => $"{Markup.Escape(m.Feature ?? "?")} {Markup.Escape(m.Id ?? "?")} {(m.State == ModelStates.Loaded ? "[green]loaded[/]" : $"[yellow]{Markup.Escape(m.State ?? "?")}[/]")}")))
            : new Markup("-");

    private static IRenderable Health(HealthReport? health)
    {
        if (health?.Status is not { } status)
        {
            return new Text("-");
        }

        if (status == HealthStatus.Ok)
        {
            return new Markup("[green]ok[/]");
        }

        var failing = (health.Checks ?? new Dictionary<string, HealthCheck>()).Where(c => c.Value?.Status != HealthStatus.Ok).Select(c => $"{c.Key}: {c.Value?.Detail}");
        return new Markup($"[yellow]{Markup.Escape(status)}[/] {Markup.Escape(string.Join("; ", failing))}");
    }

    private static string Age(TimeSpan age) => age < TimeSpan.FromMinutes(1)
        ? string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, (int)age.TotalSeconds)} s ago")
        : string.Create(CultureInfo.InvariantCulture, $"{(int)age.TotalMinutes} min ago");
}
