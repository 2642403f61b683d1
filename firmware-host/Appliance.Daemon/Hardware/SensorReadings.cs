using System.Collections.Concurrent;
using Appliance.Contracts;
using Appliance.Profiles;
using Appliance.Voice;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// The latest telemetry of each sensor, as published: a failed read replaces the reading with nothing, never with the
/// previous value. Voice questions about the appliance's state are answered from it, and the voice model reads it
/// (ordered by sensor id). Thread-safe.
/// </summary>
internal sealed class SensorReadings : ISensorReadings
{
    private readonly ConcurrentDictionary<string, TelemetryReading> _latest = new(StringComparer.Ordinal);

    /// <summary>Keeps <paramref name="reading"/> as its sensor's latest.</summary>
    public void Record(TelemetryReading reading) => _latest[reading.Sensor] = reading;

    /// <inheritdoc />
    public double? Latest(string sensorId, string reading) =>
        _latest.TryGetValue(sensorId, out var latest) ? Value(latest, reading) : null;

    /// <inheritdoc />
    public IReadOnlyList<SensorValue> Snapshot() =>
        [.. _latest.Values.OrderBy(r => r.Sensor, StringComparer.Ordinal)
            .SelectMany(r => IntentAnswer.Readings.Select(name => (name, value: Value(r, name))).Where(v => v.value is not null).Select(v => new SensorValue(r.Sensor, v.name, v.value!.Value)))];

    private static double? Value(TelemetryReading latest, string reading) => latest.Error is not null ? null : reading switch
    {
        IntentAnswer.Temperature => latest.TemperatureC,
        IntentAnswer.Humidity => latest.HumidityPercent,
        IntentAnswer.DoorOpen => latest.Open is { } open ? (open ? 1 : 0) : null,
        _ => null,
    };
}
