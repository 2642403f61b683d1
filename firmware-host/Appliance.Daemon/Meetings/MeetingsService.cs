using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Meetings;
using Appliance.Meetings.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Meetings;

/// <summary>
/// Runs the <see cref="MeetingPipeline"/>: resumes the meetings a restart left open, deletes meetings past their
/// retention every hour, reports failed meetings on the <c>meetings</c> health check, publishes the retained summary of
/// every completed meeting again on each connection to the broker (a restarted daemon's embedded broker, or an external
/// broker without persistence, starts with an empty retained store), and at stop ends every meeting's run (the journals
/// keep them for the next start).
/// </summary>
internal sealed class MeetingsService : BackgroundService
{
    private static readonly TimeSpan RetentionInterval = TimeSpan.FromHours(1);

    /// <summary>How often open meetings are looked at for earbuds that never came back.</summary>
    private static readonly TimeSpan IdleCheckInterval = TimeSpan.FromMinutes(1);
    private readonly MeetingPipeline _pipeline;
    private readonly MeetingSessionManager _store;
    private readonly IMeetingEvents _events;
    private readonly HealthMonitor _health;
    private readonly TimeProvider _time;
    private readonly ILogger<MeetingsService> _logger;

    private readonly TimeSpan? _idleClose;

    public MeetingsService(MeetingPipeline pipeline, MeetingSessionManager store, IMeetingEvents events, MqttConnection mqtt, HealthMonitor health, DeviceContext device, DeviceMetrics metrics, TimeProvider time, ILogger<MeetingsService> logger)
    {
        metrics.ObserveMeetings(store.OpenSessions, store.Capacity);
        _logger = logger;
        _idleClose = device.Profile.Meetings.IdleCloseMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : null;
        _pipeline = pipeline;
        _store = store;
        _events = events;
        _health = health;
        _time = time;

        // Registered before the first connection is made, so it runs after that one too.
        mqtt.OnConnected(RepublishSummariesAsync);
        store.StorageChanged += ReportStorage;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // A meetings folder that cannot be written degrades the meetings alone: the rest of the appliance runs on.
        _health.Report("storage", _store.StorageProblem is null ? HealthStatus.Ok : HealthStatus.Degraded, _store.StorageProblem ?? WritableDetail);
        if (_store.StorageProblem is { } problem)
        {
            MeetingsLog.StorageUnavailable(_logger, problem);
        }

        _pipeline.FailuresChanged += ReportHealth;
        ReportHealth();
        _pipeline.ResumeAll();
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        _pipeline.FailuresChanged -= ReportHealth;
        await _pipeline.DisposeAsync().ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(IdleCheckInterval, _time);
        var nextRetention = _time.GetTimestamp();
        try
        {
            do
            {
                if (_time.GetTimestamp() >= nextRetention)
                {
                    await _pipeline.DeleteExpiredAsync(stoppingToken).ConfigureAwait(false);
                    nextRetention = _time.GetTimestamp() + (long)(RetentionInterval.TotalSeconds * _time.TimestampFrequency);
                }

                await CloseSilentMeetingsAsync(stoppingToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private const string WritableDetail = "the meetings folder can be written";

    /// <summary>Stops the open meetings whose earbuds sent nothing for the profile's idle time: they are summarised from what arrived.</summary>
    private async Task CloseSilentMeetingsAsync(CancellationToken cancellationToken)
    {
        if (_idleClose is not { } idle)
        {
            return;
        }

        foreach (var sessionId in _store.SilentOpenSessions(idle))
        {
            // Logged before the stop, whose summary may be out before the stop returns.
            MeetingsLog.ClosingIdle(_logger, sessionId, idle);
            var outcome = await _pipeline.StopAsync(sessionId, null, cancellationToken).ConfigureAwait(false);
            if (outcome.Result is not (MeetingResult.Ok or MeetingResult.AlreadyDone))
            {
                MeetingsLog.IdleStopFailed(_logger, sessionId, outcome.Result.ToString());
            }
        }
    }

    /// <summary>A full or failing disk, and its end: health's <c>storage</c> check and the log follow it.</summary>
    private void ReportStorage(string? problem)
    {
        _health.Report("storage", problem is null ? HealthStatus.Ok : HealthStatus.Degraded, problem ?? WritableDetail);
        if (problem is null)
        {
            MeetingsLog.StorageRecovered(_logger);
        }
        else
        {
            MeetingsLog.StorageFailing(_logger, problem);
        }
    }

    /// <summary>The retained summary of each completed meeting still kept, published again.</summary>
    private async Task RepublishSummariesAsync(CancellationToken cancellationToken)
    {
        foreach (var meeting in _store.List().Where(m => m.State == MeetingState.Completed))
        {
            if (_store.ReadSummary(meeting.SessionId) is { } summary)
            {
                await _events.SummaryAsync(meeting.SessionId, summary, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private void ReportHealth()
    {
        var failures = _pipeline.Failures;
        _health.Report(
            "meetings",
            failures.Count == 0 ? HealthStatus.Ok : HealthStatus.Degraded,
            failures.Count == 0 ? "no failed meeting" : string.Join("; ", failures.Select(f => $"{f.Key}: {f.Value}")));
    }
}

/// <summary>The meetings service's log messages (event ids 6100-6119).</summary>
internal static partial class MeetingsLog
{
    [LoggerMessage(6100, LogLevel.Error, "Meetings are unavailable, the rest of the appliance runs on: {Problem}")]
    public static partial void StorageUnavailable(ILogger logger, string problem);

    [LoggerMessage(6101, LogLevel.Error, "Meeting audio and state are refused for storage until space is freed: {Problem}")]
    public static partial void StorageFailing(ILogger logger, string problem);

    [LoggerMessage(6102, LogLevel.Information, "Meetings can be written again")]
    public static partial void StorageRecovered(ILogger logger);

    [LoggerMessage(6103, LogLevel.Warning, "Meeting {SessionId} stopped: its earbuds sent nothing for {Idle}; it is summarised from what arrived")]
    public static partial void ClosingIdle(ILogger logger, string sessionId, TimeSpan idle);

    [LoggerMessage(6104, LogLevel.Warning, "Meeting {SessionId} could not be stopped after its idle time ({Result}); the next check tries again")]
    public static partial void IdleStopFailed(ILogger logger, string sessionId, string result);
}
