using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Hardware;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// Polls each sensor of the profile at its interval and publishes the readings on <c>telemetry</c>. A failed read (bad
/// checksum, bus error) is published as an error for that sensor, never as the previous value; three failures in a row
/// mark the sensor degraded in health until a read succeeds. Each reading is also kept as its sensor's latest
/// (<see cref="SensorReadings"/>), which voice questions are answered from.
/// </summary>
internal sealed class TelemetryService(
    DeviceContext device,
    MqttConnection mqtt,
    HealthMonitor health,
    SensorReadings latest,
    IOptions<SimulationOptions> simulation,
    TimeProvider time,
    ILogger<TelemetryService> logger) : BackgroundService
{
    private const int FailuresBeforeDegraded = 3;

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = simulation.Value;
        var sensors = new List<IClimateSensor>();
        for (var i = 0; i < device.Profile.Sensors.Count; i++)
        {
            var spec = device.Profile.Sensors[i];
            try
            {
                sensors.Add(ClimateSensorFactory.Create(spec, new SensorSimulation(settings.BaseTemperatureC, settings.BaseHumidityPercent, settings.ChecksumFailureRate, settings.Seed + i), time));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or DllNotFoundException or ArgumentException)
            {
                // A board without the bus still runs everything else; health names the missing sensor.
                var problem = $"{spec.Type} at {spec.Address} on i2c-{spec.BusId} is not usable: {ex.Message}";
                HardwareLog.SensorUnavailable(logger, spec.Id, problem);
                health.Report($"sensor:{spec.Id}", HealthStatus.Degraded, problem);
            }
        }

        return Task.WhenAll(sensors.Select(sensor => PollAsync(sensor, stoppingToken)));
    }

    private async Task PollAsync(IClimateSensor sensor, CancellationToken stoppingToken)
    {
        using var _ = sensor;
        var spec = sensor.Spec;
        var check = $"sensor:{spec.Id}";
        health.Report(check, HealthStatus.Ok, "no reading yet");
        var failures = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(spec.IntervalSeconds), time);
        try
        {
            do
            {
                var result = await sensor.ReadAsync(stoppingToken).ConfigureAwait(false);
                TelemetryReading reading;
                if (result.Reading is { } value)
                {
                    failures = 0;
                    health.Report(check, HealthStatus.Ok, $"{spec.Type} at {spec.Address} on i2c-{spec.BusId}");
                    reading = new TelemetryReading
                    {
                        Sensor = spec.Id,
                        Type = spec.Type,
                        At = time.GetUtcNow(),
                        TemperatureC = Math.Round(value.TemperatureC, 2),
                        HumidityPercent = value.HumidityPercent is { } h ? Math.Round(h, 2) : null,
                        PressureHpa = value.PressureHpa is { } p ? Math.Round(p, 2) : null,
                    };
                }
                else
                {
                    failures++;
                    HardwareLog.SensorReadFailed(logger, spec.Id, result.ErrorCode!, result.ErrorMessage!, failures);
                    if (failures >= FailuresBeforeDegraded)
                    {
                        health.Report(check, HealthStatus.Degraded, $"{failures} failed reads in a row: {result.ErrorMessage}");
                    }

                    reading = new TelemetryReading { Sensor = spec.Id, Type = spec.Type, At = time.GetUtcNow(), Error = new RpcError(result.ErrorCode!, result.ErrorMessage!) };
                }

                latest.Record(reading);
                await mqtt.TryPublishAsync(Channels.Telemetry, Topics.Telemetry(device.DeviceId), reading, stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }
}
