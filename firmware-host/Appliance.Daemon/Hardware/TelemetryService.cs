using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Status;
using Appliance.Hardware;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Hardware;

/// <summary>
/// Polls each sensor of the profile at its interval and publishes the readings on <c>telemetry</c>. A
/// failed read (bad checksum, bus error) is published as an error for that sensor, never as the previous
/// value; three failures in a row mark the sensor degraded in health until a read succeeds.
/// </summary>
internal sealed class TelemetryService(
    DeviceContext device,
    MqttConnection mqtt,
    HealthMonitor health,
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
                sensors.Add(ClimateSensorFactory.Create(spec, new SensorSimulation(settings.BaseTemperatureC, settings.BaseHumidityPercent, settings.ChecksumFailureRate, settings.Seed + i)));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or DllNotFoundException or ArgumentException)
            {
                // A board without the bus still runs everything else; health names the missing sensor.
                var problem = $"{spec.Type} at {spec.Address} on i2c-{spec.BusId} is not usable: {ex.Message}";
                Log.SensorUnavailable(logger, spec.Id, problem);
                health.Report($"sensor:{spec.Id}", HealthMonitor.Degraded, problem);
            }
        }

        return Task.WhenAll(sensors.Select(sensor => PollAsync(sensor, stoppingToken)));
    }

    private async Task PollAsync(IClimateSensor sensor, CancellationToken stoppingToken)
    {
        using var _ = sensor;
        var spec = sensor.Spec;
        var check = $"sensor:{spec.Id}";
        health.Report(check, HealthMonitor.Ok, "no reading yet");
        var failures = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(spec.IntervalSeconds), time);
        do
        {
            var result = await sensor.ReadAsync().ConfigureAwait(false);
            object body;
            if (result.Reading is { } reading)
            {
                failures = 0;
                health.Report(check, HealthMonitor.Ok, $"{spec.Type} at {spec.Address} on i2c-{spec.BusId}");
                body = new
                {
                    sensor = spec.Id,
                    type = spec.Type,
                    at = time.GetUtcNow(),
                    temperatureC = Math.Round(reading.TemperatureC, 2),
                    humidityPercent = reading.HumidityPercent is { } h ? Math.Round(h, 2) : (double?)null,
                    pressureHpa = reading.PressureHpa is { } p ? Math.Round(p, 2) : (double?)null,
                };
            }
            else
            {
                failures++;
                Log.SensorReadFailed(logger, spec.Id, result.ErrorCode!, result.ErrorMessage!, failures);
                if (failures >= FailuresBeforeDegraded)
                {
                    health.Report(check, HealthMonitor.Degraded, $"{failures} failed reads in a row: {result.ErrorMessage}");
                }

                body = new { sensor = spec.Id, type = spec.Type, at = time.GetUtcNow(), error = new RpcError(result.ErrorCode!, result.ErrorMessage!) };
            }

            await mqtt.TryPublishJsonAsync(Topics.Telemetry(device.DeviceId), body, MqttQualityOfServiceLevel.AtMostOnce, retain: false, stoppingToken).ConfigureAwait(false);
        }
        while (await WaitAsync(timer, stoppingToken).ConfigureAwait(false));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken stoppingToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
