using System.Diagnostics;
using System.Globalization;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon;

/// <summary>How the daemon meets its host: the ready line operators wait for, and systemd's watchdog.</summary>
internal static partial class HostIntegration
{
    /// <summary>Registers the ready announcer, and the watchdog feeder when running under systemd.</summary>
    public static IServiceCollection AddHostIntegration(this IServiceCollection services)
    {
        if (SystemdHelpers.IsSystemdService())
        {
            services.AddHostedService<SystemdWatchdog>();
        }

        services.AddHostedService<ReadyAnnouncer>();
        return services;
    }

    [LoggerMessage(1000, LogLevel.Information, "Ready in {ElapsedMs} ms: device {DeviceId}, profile {Profile}, {Broker}, connected {Connected}, execution provider {ExecutionProvider}")]
    private static partial void Ready(ILogger logger, long elapsedMs, string deviceId, string profile, string broker, bool connected, string executionProvider);

    [LoggerMessage(1001, LogLevel.Information, "Execution provider {Name} skipped: {Reason}")]
    private static partial void ExecutionProviderSkipped(ILogger logger, string name, string reason);

    /// <summary>Logs the one line operators and scripts wait for, once every service has started.</summary>
    private sealed class ReadyAnnouncer(
        IHostApplicationLifetime lifetime,
        DeviceContext device,
        MqttConnection mqtt,
        IOptions<MqttOptions> mqttOptions,
        TimeProvider time,
        ILogger<ReadyAnnouncer> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() =>
            {
                using var process = Process.GetCurrentProcess();
                var sinceStart = time.GetUtcNow() - new DateTimeOffset(process.StartTime.ToUniversalTime());
                var options = mqttOptions.Value;
                var (host, port) = mqtt.Endpoint;
                var broker = options.Mode == MqttMode.Embedded
                    ? $"embedded broker on {options.Broker.BindAddress}:{port}" + (options.Broker.Tls.Enabled ? " (TLS on)" : "")
                    : $"external broker {host}:{port}";
                foreach (var (name, reason) in device.ExecutionProvider.Skipped)
                {
                    ExecutionProviderSkipped(logger, name, reason);
                }

                Ready(logger, (long)sinceStart.TotalMilliseconds, device.DeviceId, device.Profile.Name, broker, mqtt.IsConnected, device.ExecutionProvider.Chosen.Name);
            });
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>
    /// Feeds systemd's watchdog (WatchdogSec= in the unit) at half the interval systemd asks for, but only while the MQTT
    /// supervisor is alive: a hung daemon stops feeding and systemd restarts it.
    /// </summary>
    private sealed class SystemdWatchdog(ISystemdNotifier notifier, MqttConnection mqtt, TimeProvider time) : BackgroundService
    {
        private static readonly ServiceState Feed = new("WATCHDOG=1");

        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            if (!notifier.IsEnabled
                || !long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var microseconds)
                || microseconds <= 0)
            {
                return;
            }

            using var timer = new PeriodicTimer(TimeSpan.FromMicroseconds(microseconds / 2.0), time);
            try
            {
                while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
                {
                    if (mqtt.ExecuteTask is { IsCompleted: false })
                    {
                        notifier.Notify(Feed);
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
    }
}
