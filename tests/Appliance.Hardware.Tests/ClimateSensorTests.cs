using System.Device.I2c;
using Appliance.Hardware;
using Appliance.Profiles;

namespace Appliance.Hardware.Tests;

public sealed class ClimateSensorTests
{
    private static SensorSpec SimulatedSpec() => new()
    {
        Id = "climate",
        Type = "sht3x",
        Bus = "i2c",
        BusId = 1,
        Address = "0x44",
        Simulated = true,
    };

    [Fact]
    public void The_crc8_matches_the_datasheet_example()
    {
        // Sensirion's SHT3x datasheet gives CRC(0xBEEF) = 0x92.
        Assert.Equal(0x92, Sht3xProtocol.Crc8(0xBE, 0xEF));
    }

    [Fact]
    public async Task The_driver_decodes_the_simulated_chip_exactly()
    {
        var chip = new SimulatedSht3x(new I2cConnectionSettings(1, 0x44), baseTemperatureC: 4.0, baseHumidityPercent: 60, checksumFailureRate: 0, seed: 3);
        using var sensor = new Sht3xClimateSensor(SimulatedSpec(), chip, TimeProvider.System);

        for (var i = 0; i < 20; i++)
        {
            var result = await sensor.ReadAsync(CancellationToken.None);
            var reading = Assert.IsType<ClimateReading>(result.Reading);
            Assert.InRange(reading.TemperatureC, 0, 8);
            Assert.Equal(chip.LastTruth.TemperatureC, reading.TemperatureC, 0.01);
            Assert.Equal(chip.LastTruth.HumidityPercent, reading.HumidityPercent!.Value, 0.01);
        }
    }

    [Fact]
    public async Task Readings_drift_between_polls()
    {
        var chip = new SimulatedSht3x(new I2cConnectionSettings(1, 0x44), 21.5, 45, 0, seed: 5);
        using var sensor = new Sht3xClimateSensor(SimulatedSpec(), chip, TimeProvider.System);

        var temperatures = new HashSet<double>();
        for (var i = 0; i < 10; i++)
        {
            temperatures.Add((await sensor.ReadAsync(CancellationToken.None)).Reading!.TemperatureC);
        }

        Assert.True(temperatures.Count > 5, "a real sensor's readings move");
    }

    [Fact]
    public async Task A_corrupted_checksum_is_a_failed_read_never_a_stale_value()
    {
        var chip = new SimulatedSht3x(new I2cConnectionSettings(1, 0x44), 21.5, 45, checksumFailureRate: 0.3, seed: 11);
        using var sensor = new Sht3xClimateSensor(SimulatedSpec(), chip, TimeProvider.System);

        var failures = 0;
        for (var i = 0; i < 200; i++)
        {
            var result = await sensor.ReadAsync(CancellationToken.None);
            if (result.Reading is null)
            {
                failures++;
                Assert.Equal(SensorErrorCodes.ChecksumFailed, result.ErrorCode);
            }
        }

        Assert.True(chip.CorruptedFrames > 0);
        Assert.Equal(chip.CorruptedFrames, failures);
        Assert.InRange(failures, 30, 90);
    }

    [Fact]
    public async Task The_factory_builds_the_simulated_chip_for_a_simulated_entry()
    {
        using var sensor = ClimateSensorFactory.Create(SimulatedSpec(), new SensorSimulation(ChecksumFailureRate: 0), TimeProvider.System);

        var result = await sensor.ReadAsync(CancellationToken.None);

        Assert.NotNull(result.Reading);
        Assert.InRange(result.Reading.TemperatureC, 15, 28);
    }

    [Fact]
    public void An_unknown_command_is_a_bus_error_like_a_nack()
    {
        using var chip = new SimulatedSht3x(new I2cConnectionSettings(1, 0x44), 21.5, 45, 0, 1);

        Assert.Throws<IOException>(() => chip.Write([0x12, 0x34]));
        Assert.Throws<IOException>(() => chip.Read(new byte[6]));
    }
}
