using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Meetings.Pipeline;
using Microsoft.Extensions.Hosting;

namespace Appliance.Daemon.Meetings;

/// <summary>
/// Runs the <see cref="MeetingPipeline"/>: resumes the meetings a restart left open, deletes meetings past their
/// retention every hour, reports failed meetings on the <c>meetings</c> health check, and at stop ends every meeting's
/// run (the journals keep them for the next start).
/// </summary>
internal sealed class MeetingsService(MeetingPipeline pipeline, HealthMonitor health, TimeProvider time) : BackgroundService
{
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromHours(1);

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        pipeline.FailuresChanged += ReportHealth;
        ReportHealth();
        pipeline.ResumeAll();
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        pipeline.FailuresChanged -= ReportHealth;
        await pipeline.DisposeAsync().ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(RetentionInterval, time);
        try
        {
            do
            {
                await pipeline.DeleteExpiredAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void ReportHealth()
    {
        var failures = pipeline.Failures;
        health.Report(
            "meetings",
            failures.Count == 0 ? HealthStatus.Ok : HealthStatus.Degraded,
            failures.Count == 0 ? "no failed meeting" : string.Join("; ", failures.Select(f => $"{f.Key}: {f.Value}")));
    }
}
