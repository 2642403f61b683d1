namespace Appliance.Voice;

/// <summary>
/// The latest reading of each sensor, which questions about the appliance's state are answered from (never a model).
/// Implementations are thread-safe: the interpreter reads while telemetry writes.
/// </summary>
public interface ISensorReadings
{
    /// <summary>The latest <paramref name="reading"/> of sensor <paramref name="sensorId"/>; null when it has given none (or its last read failed).</summary>
    /// <param name="sensorId">A sensor id of the profile.</param>
    /// <param name="reading"><c>temperature</c> (°C), <c>humidity</c> (% relative humidity) or <c>open</c> (a door: 1 open, 0 closed).</param>
    double? Latest(string sensorId, string reading);

    /// <summary>Every reading there is now, ordered by sensor (and door) id; empty when there are none.</summary>
    IReadOnlyList<SensorValue> Snapshot();
}

/// <summary>One reading of one sensor, as <see cref="ISensorReadings.Latest"/> gives it.</summary>
/// <param name="SensorId">The sensor's (or door's) id in the profile.</param>
/// <param name="Reading"><c>temperature</c> (°C), <c>humidity</c> (% relative humidity) or <c>open</c> (1 open, 0 closed).</param>
/// <param name="Value">The value in the reading's unit.</param>
public readonly record struct SensorValue(string SensorId, string Reading, double Value);
