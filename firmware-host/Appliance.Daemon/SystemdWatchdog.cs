using System.Globalization;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Appliance.Daemon;

/// <summary>
/// Feeds systemd's watchdog (WatchdogSec= in the unit) at half the interval systemd asks for, but only
/// while the MQTT supervisor is alive: a hung daemon stops feeding and systemd restarts it. Does nothing
/// outside systemd.
/// </summary>
internal sealed class SystemdWatchdog(ISystemdNotifier notifier, MqttConnection mqtt, TimeProvider time) : BackgroundService
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
