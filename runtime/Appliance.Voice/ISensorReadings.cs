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
}
