using System.Device.I2c;
using Appliance.Profiles;
using Iot.Device.Bmxx80;
using Iot.Device.Bmxx80.PowerMode;

namespace Appliance.Hardware;

/// <summary>One climate reading. Humidity and pressure are absent when the chip does not measure them.</summary>
/// <param name="TemperatureC">Temperature in °C.</param>
/// <param name="HumidityPercent">Relative humidity in %RH (0 to 100); null when the chip has no humidity sensor.</param>
/// <param name="PressureHpa">Air pressure in hPa; null when the chip has no pressure sensor (the SHT3x).</param>
public sealed record ClimateReading(double TemperatureC, double? HumidityPercent, double? PressureHpa);

/// <summary>The outcome of one read: a reading, or the reason there is none. A failed read never repeats an old value.</summary>
/// <param name="Reading">The reading; null when the read failed.</param>
/// <param name="ErrorCode">One of the <see cref="SensorErrorCodes"/> when the read failed; null otherwise.</param>
/// <param name="ErrorMessage">What went wrong, in words, when the read failed; null otherwise.</param>
public sealed record ClimateReadResult(ClimateReading? Reading, string? ErrorCode = null, string? ErrorMessage = null)
{
    /// <summary>A failed read with no reading.</summary>
    /// <param name="code">One of the <see cref="SensorErrorCodes"/>.</param>
    /// <param name="message">What went wrong, in words.</param>
    public static ClimateReadResult Failed(string code, string message) => new(null, code, message);
}

/// <summary>Error codes of failed reads.</summary>
public static class SensorErrorCodes
{
    /// <summary>A data word of the frame did not match its CRC-8; the reading is discarded, never replaced by an earlier one.</summary>
    public const string ChecksumFailed = "checksum_failed";
    /// <summary>The I2C transfer failed (no acknowledge, bus fault); <see cref="ClimateReadResult.ErrorMessage"/> carries the bus's error.</summary>
    public const string BusError = "bus_error";
    /// <summary>The BME280 answered but delivered no temperature.</summary>
    public const string NoData = "no_data";
}

/// <summary>
/// A temperature/humidity sensor as the daemon sees it: one <see cref="ReadAsync"/> per poll, which awaits
/// the chip's conversion time. Not thread-safe: one poller per sensor.
/// </summary>
public interface IClimateSensor : IDisposable
{
    /// <summary>The profile's entry for the sensor.</summary>
    SensorSpec Spec { get; }

    /// <summary>Reads the sensor once, waiting out its conversion time.</summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A reading, or the reason there is none (never an earlier value).</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    ValueTask<ClimateReadResult> ReadAsync(CancellationToken cancellationToken);
}

/// <summary>Creates the sensor a profile entry names, on the board's I2C bus or on the simulated one.</summary>
public static class ClimateSensorFactory
{
    /// <summary>
    /// Opens the I2C device at the entry's bus and 7-bit address, or builds a <see cref="SimulatedSht3x"/> there when
    /// <see cref="SensorSpec.Simulated"/> is set.
    /// </summary>
    /// <param name="spec">The profile's sensor entry.</param>
    /// <param name="simulation">Settings of the simulated chip, used when <see cref="SensorSpec.Simulated"/> is set.</param>
    /// <param name="time">The clock of the chips' conversion waits.</param>
    /// <returns>The sensor, which owns its I2C device; the caller disposes it.</returns>
    /// <exception cref="ArgumentException"><see cref="SensorSpec.Type"/> is not <c>sht3x</c> or <c>bme280</c>.</exception>
    /// <exception cref="IOException">The board's I2C bus cannot be opened.</exception>
    public static IClimateSensor Create(SensorSpec spec, SensorSimulation simulation, TimeProvider time)
    {
        var settings = new I2cConnectionSettings(spec.BusId, spec.AddressValue);
        if (spec.Simulated)
        {
            var chip = new SimulatedSht3x(settings, simulation.BaseTemperatureC, simulation.BaseHumidityPercent, simulation.ChecksumFailureRate, simulation.Seed);
            return new Sht3xClimateSensor(spec, chip, time);
        }

        var device = I2cDevice.Create(settings);
        return spec.Type switch
        {
            "sht3x" => new Sht3xClimateSensor(spec, device, time),
            "bme280" => new Bme280ClimateSensor(spec, device),
            _ => throw new ArgumentException($"Unknown sensor type {spec.Type}.", nameof(spec)),
        };
    }
}

/// <summary>How a simulated sensor behaves.</summary>
/// <param name="BaseTemperatureC">The temperature, in °C, the readings start at and drift around.</param>
/// <param name="BaseHumidityPercent">The relative humidity, in %RH, the readings start at and drift around.</param>
/// <param name="ChecksumFailureRate">The share of frames, 0 to 1, sent with a corrupted CRC-8.</param>
/// <param name="Seed">The seed of the drift and corruption; the same seed gives the same readings.</param>
public sealed record SensorSimulation(double BaseTemperatureC = 21.5, double BaseHumidityPercent = 45, double ChecksumFailureRate = 0.05, int Seed = 1);

/// <summary>
/// SHT3x over I2C, spoken directly: a single-shot high-repeatability measurement (0x2400, no clock
/// stretching), the datasheet's 15 ms conversion wait, then temperature and humidity words each checked
/// against their CRC-8. The Iot.Device.Sht3x binding is not used because it keeps the previous values when a
/// frame fails its CRC, and a fridge must never report a stale temperature as a fresh one.
/// </summary>
internal sealed class Sht3xClimateSensor(SensorSpec spec, I2cDevice device, TimeProvider time) : IClimateSensor
{
    public SensorSpec Spec { get; } = spec;

    public async ValueTask<ClimateReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        var frame = new byte[6];
        try
        {
            device.Write([Sht3xProtocol.MeasureHighRepeatability >> 8, Sht3xProtocol.MeasureHighRepeatability & 0xFF]);
            await Task.Delay(Sht3xProtocol.ConversionTime, time, cancellationToken).ConfigureAwait(false);
            device.Read(frame);
        }
        catch (IOException ex)
        {
            return ClimateReadResult.Failed(SensorErrorCodes.BusError, ex.Message);
        }

        if (Sht3xProtocol.Crc8(frame[0], frame[1]) != frame[2] || Sht3xProtocol.Crc8(frame[3], frame[4]) != frame[5])
        {
            return ClimateReadResult.Failed(SensorErrorCodes.ChecksumFailed, "the sensor frame failed its CRC-8 check");
        }

        var rawTemperature = (frame[0] << 8) | frame[1];
        var rawHumidity = (frame[3] << 8) | frame[4];
        return new ClimateReadResult(new ClimateReading(Sht3xProtocol.TemperatureFromRaw(rawTemperature), Sht3xProtocol.HumidityFromRaw(rawHumidity), null));
    }

    public void Dispose() => device.Dispose();
}

internal sealed class Bme280ClimateSensor : IClimateSensor
{
    private readonly Bme280 _chip;

    public Bme280ClimateSensor(SensorSpec spec, I2cDevice device)
    {
        Spec = spec;
        _chip = new Bme280(device);
    }

    public SensorSpec Spec { get; }

    public async ValueTask<ClimateReadResult> ReadAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // Forced mode: one conversion per poll, then the chip sleeps until the next one; the binding's
            // ReadAsync waits out the conversion time.
            _chip.SetPowerMode(Bmx280PowerMode.Forced);
            var result = await _chip.ReadAsync().ConfigureAwait(false);
            return result.Temperature is { } temperature
                ? new ClimateReadResult(new ClimateReading(temperature.DegreesCelsius, result.Humidity?.Percent, result.Pressure?.Hectopascals))
                : ClimateReadResult.Failed(SensorErrorCodes.NoData, "the BME280 returned no temperature");
        }
        catch (IOException ex)
        {
            return ClimateReadResult.Failed(SensorErrorCodes.BusError, ex.Message);
        }
    }

    public void Dispose() => _chip.Dispose();
}
