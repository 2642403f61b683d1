using System.Text.Json;
using System.Threading.Channels;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.Ota;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace Appliance.Daemon.Ota;

/// <summary>
/// Runs over-the-air updates on the device: one at a time, started by <c>ota.update</c>, a fleet group's retained
/// announcement, or the schedule; reports every stage on <c>ota/progress</c>; restarts the daemon into the new models
/// after a switch; and watches the health window after such a restart, confirming the switch or rolling it back.
/// </summary>
internal sealed class OtaService : BackgroundService
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ModelLoadLimit = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);

    private readonly OtaSlots _slots;
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly IReadOnlyList<IModelStatusSource> _models;
    private readonly TimeProvider _time;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly DaemonRestart _restart;
    private readonly ILogger<OtaService> _logger;
    private readonly HttpClient? _http;
    private readonly OtaUpdater? _updater;
    private readonly Channel<OtaProgressEvent> _progress = Channel.CreateUnbounded<OtaProgressEvent>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<string?> _requests = Channel.CreateBounded<string?>(1);
    private readonly Lock _gate = new();
    private bool _running;
    private long _lastDownloadReport;
    private OtaProgressEvent? _last;
    private string? _failedInWindow;

    public OtaService(OtaSlots slots, MqttConnection mqtt, DeviceContext device, DeviceMetrics metrics, IEnumerable<IModelStatusSource> models, LlmServiceOptions languageModels, InferenceSettings speech, TimeProvider time, IHostApplicationLifetime lifetime, DaemonRestart restart, ILogger<OtaService> logger)
    {
        _slots = slots;
        _mqtt = mqtt;
        _device = device;
        _models = [.. models];
        _time = time;
        _lifetime = lifetime;
        _restart = restart;
        _logger = logger;
        if (slots is not { Store: { } store, Root: { } root })
        {
            return;
        }

        var options = slots.Options;
        _http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        var smokeTest = new ModelSmokeTest(languageModels, speech, time);
        _updater = new OtaUpdater(
            new OtaUpdaterOptions
            {
                Root = root,
                Repository = new Uri(options.Repository!),
                InitialRoot = options.InitialRoot,
                Limits = new FetchLimits { MinBytesPerSecond = options.MinBytesPerSecond, SpeedWindow = TimeSpan.FromSeconds(options.SpeedWindowSeconds) },
            },
            new DeviceIdentity(device.Profile.Name, device.Profile.Soc.Model, DeviceContext.DaemonVersion),
            store,
            smokeTest,
            _http,
            time);
        metrics.RequestCompleted += OnRequestCompleted;
        if (device.FleetGroup is { } group)
        {
            mqtt.Subscribe(new MqttSubscription(Topics.OtaAnnouncement(group), Channels.OtaAnnouncement.Qos, OnAnnouncementAsync));
        }
    }

    /// <summary>Whether updates are configured (<c>Ota:Repository</c>).</summary>
    public bool Enabled => _updater is not null;

    /// <summary>Whether an update is running or waiting to.</summary>
    public bool Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>The last stage reported.</summary>
    public OtaProgressEvent? LastProgress => Volatile.Read(ref _last);

    /// <summary>What the repository offers this device now.</summary>
    public Task<BundleCheck> CheckAsync(string? bundle, CancellationToken cancellationToken) => _updater!.CheckAsync(bundle, cancellationToken);

    /// <summary>Starts an update of <paramref name="bundle"/> (null: the newest for this device) unless one is running or a health window is.</summary>
    /// <returns>Null when it started, else why not.</returns>
    public string? TryStartUpdate(string? bundle)
    {
        lock (_gate)
        {
            if (_slots.Store?.State.Trial is not null)
            {
                return "the health window of the last switch is running; an update can start once it passes or is rolled back";
            }

            if (_running || !_requests.Writer.TryWrite(bundle))
            {
                return "an update is already running; follow it on ota/progress";
            }

            _running = true;
            return null;
        }
    }

    /// <summary>Goes back to the models before the last switch and restarts into them.</summary>
    /// <returns>The state after the rollback, or null when there is nothing to go back to or an update runs.</returns>
    public OtaState? Rollback(string reason)
    {
        lock (_gate)
        {
            if (_running || !_slots.Store!.Rollback(reason))
            {
                return null;
            }
        }

        ReportRolledBack(OtaRefusalCodes.Requested, reason);
        _slots.NotifyChanged();
        RestartInto("previous models");
        return _slots.State(LastProgress);
    }

    public override void Dispose()
    {
        _updater?.Dispose();
        _http?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_updater is null)
        {
            return;
        }

        var publisher = PublishProgressAsync(stoppingToken);
        try
        {
            await RunAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            // The stages reported up to the stop still go out (the MQTT connection stops after this service).
            _progress.Writer.TryComplete();
            await publisher.ConfigureAwait(false);
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        if (_slots.Store!.StateDamage is { } damage)
        {
            OtaLog.StateDamaged(_logger, damage);
        }

        if (_slots.RolledBackAtStart is { } reason)
        {
            OtaLog.RolledBackAtStart(_logger, reason);
            ReportRolledBack(OtaRefusalCodes.HealthCheckFailed, reason);
        }

        var window = Task.CompletedTask;
        if (_slots.Store!.State is { Trial: not null } switched)
        {
            // Said again at every start of the window: a broker that restarted with the daemon (the embedded one) lost the retained stage.
            Report(new OtaProgressEvent { Stage = OtaStageNames.HealthWindow, Bundle = switched.Bundle, Release = switched.BundleRelease, At = _time.GetUtcNow() });
            window = WatchHealthWindowAsync(stoppingToken);
        }

        var schedule = ScheduleAsync(stoppingToken);
        try
        {
            await foreach (var bundle in _requests.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await UpdateAsync(bundle, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(window, schedule).ConfigureAwait(false);
    }

    private async Task UpdateAsync(string? bundle, CancellationToken stoppingToken)
    {
        try
        {
            var last = await _updater!.UpdateAsync(bundle, new Reporter(this), stoppingToken).ConfigureAwait(false);
            if (last.Stage == OtaStageNames.HealthWindow)
            {
                _slots.NotifyChanged();
                RestartInto($"models of bundle {last.Bundle} release {last.Release}");
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // An update's bug is reported on ota/progress and in the log; the daemon keeps serving on its models.
        catch (Exception e)
#pragma warning restore CA1031
        {
            OtaLog.Failed(_logger, e);
            Report(new OtaProgressEvent { Stage = OtaStageNames.Refused, Bundle = bundle, Refusal = new OtaRefusalInfo(OtaRefusalCodes.Malformed, $"the update failed: {e.Message}"), At = _time.GetUtcNow() });
        }
        finally
        {
            lock (_gate)
            {
                _running = false;
            }
        }
    }

    private async Task ScheduleAsync(CancellationToken stoppingToken)
    {
        if (_slots.Options.CheckIntervalMinutes == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(_slots.Options.CheckIntervalMinutes), _time);
        OtaLog.Scheduled(_logger, _slots.Options.CheckIntervalMinutes);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                _ = TryStartUpdate(null);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>
    /// After a restart into new models: they must all load, then serve <see cref="OtaOptions.HealthWindowRequests"/>
    /// requests without an internal error, or run <see cref="OtaOptions.HealthWindowMinutes"/> minutes. A model that
    /// fails to load, or a request that fails, rolls the switch back.
    /// </summary>
    private async Task WatchHealthWindowAsync(CancellationToken stoppingToken)
    {
        var switched = _slots.Switched();
        var started = _time.GetTimestamp();
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(250), _time);
        try
        {
            while (await tick.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var states = _models.SelectMany(m => m.StatusModels()).Where(m => switched.Contains(m.Feature)).ToList();
                if (states.FirstOrDefault(m => m.State is ModelStates.Failed or ModelStates.Fallback) is { } failed)
                {
                    FailWindow($"{failed.Feature} model {failed.Id} did not load: {failed.Error}");
                    return;
                }

                if (SwitchedModelsLoaded(switched))
                {
                    break;
                }

                if (_time.GetElapsedTime(started) > ModelLoadLimit)
                {
                    FailWindow($"the new models did not load within {ModelLoadLimit.TotalMinutes:0} minutes");
                    return;
                }
            }

            var minutes = TimeSpan.FromMinutes(_slots.Options.HealthWindowMinutes);
            while (true)
            {
                if (Volatile.Read(ref _failedInWindow) is { } failure)
                {
                    FailWindow(failure);
                    return;
                }

                if (ServedInWindow() >= _slots.Options.HealthWindowRequests || _time.GetElapsedTime(started) >= minutes)
                {
                    break;
                }

                await tick.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false);
            }

            SlotState state;
            lock (_gate)
            {
                state = _slots.Store!.State;
                if (state.Trial is null)
                {
                    return; // rolled back by a request meanwhile
                }

                _slots.Store.Commit();
            }

            _slots.NotifyChanged();
            var served = state.Trial?.RequestsServed ?? 0;
            var why = served >= _slots.Options.HealthWindowRequests ? $"{served} requests served" : $"{minutes.TotalMinutes:0} minutes with every model loaded";
            OtaLog.Committed(_logger, state.Bundle, state.BundleRelease, why);
            Report(new OtaProgressEvent { Stage = OtaStageNames.Committed, Bundle = state.Bundle, Release = state.BundleRelease, At = _time.GetUtcNow() });
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private int ServedInWindow()
    {
        lock (_gate)
        {
            return _slots.Store!.State.Trial?.RequestsServed ?? 0;
        }
    }

    /// <summary>Whether every model the last switch replaced is loaded now.</summary>
    private bool SwitchedModelsLoaded(IReadOnlyList<string> switched)
    {
        var states = _models.SelectMany(m => m.StatusModels()).Where(m => switched.Contains(m.Feature)).ToList();
        return states.Count >= switched.Count && states.All(m => m.State == ModelStates.Loaded);
    }

    private void FailWindow(string reason)
    {
        OtaLog.HealthWindowFailed(_logger, reason);
        bool rolledBack;
        lock (_gate)
        {
            rolledBack = _slots.Store!.Rollback($"health check failed: {reason}");
        }

        if (rolledBack)
        {
            ReportRolledBack(OtaRefusalCodes.HealthCheckFailed, reason);
            _slots.NotifyChanged();
            RestartInto("previous models");
        }
    }

    /// <summary>
    /// Counts a request answered once the new models have loaded, on the disk (the count goes on across the window's
    /// starts); an internal error fails the window. The technician's own requests (<c>ota.*</c>, status, health,
    /// profile) say nothing of the new models and do not count.
    /// </summary>
    private void OnRequestCompleted(string method, string? errorCode)
    {
        if (method.StartsWith("ota.", StringComparison.Ordinal) || method is "status.get" or "health.get" or "profile.get" or "fleet.status")
        {
            return;
        }

        lock (_gate)
        {
            if (_slots.Store?.State.Trial is null || !SwitchedModelsLoaded(_slots.Switched()))
            {
                return;
            }

            if (errorCode == RpcErrorCodes.Internal)
            {
                Volatile.Write(ref _failedInWindow, "a request failed with an internal error");
            }
            else
            {
                try
                {
                    _slots.Store.CountRequest();
                }
                catch (IOException)
                {
                    // A full or failing disk: the window ends by its minutes instead.
                }
            }
        }
    }

    private void RestartInto(string what)
    {
        OtaLog.Restarting(_logger, what);
        _restart.Request();
        _lifetime.StopApplication();
    }

    private Task OnAnnouncementAsync(MqttApplicationMessage message)
    {
        if (message.Payload.Length == 0)
        {
            return Task.CompletedTask;
        }

        OtaAnnouncement? announcement;
        try
        {
            announcement = Channels.OtaAnnouncement.Deserialize(message.Payload);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Not an announcement (InvalidOperationException: text that is not UTF-8): ignored, as a stranger's message on the topic.
            return Task.CompletedTask;
        }

        var state = _slots.Store!.State;
        if (announcement is { Bundle.Length: > 0 } && announcement.Release > state.BundleRelease && announcement.Release != state.LastRollback?.Release)
        {
            _ = TryStartUpdate(announcement.Bundle);
        }

        return Task.CompletedTask;
    }

    /// <summary>Reports the rollback just recorded (its bundle and release left) with <paramref name="code"/> and why.</summary>
    private void ReportRolledBack(string code, string reason)
    {
        var left = _slots.Store!.State.LastRollback;
        Report(new OtaProgressEvent { Stage = OtaStageNames.RolledBack, Bundle = left?.Bundle, Release = left?.Release, Refusal = new OtaRefusalInfo(code, reason), At = _time.GetUtcNow() });
    }

    private void Report(OtaProgressEvent progress)
    {
        Volatile.Write(ref _last, progress);
        if (progress.Stage == OtaStageNames.Downloading)
        {
            if (progress.BytesPerSecond == 0)
            {
                OtaLog.Downloading(_logger, progress.File, progress.Bundle, progress.Release, progress.Bytes, progress.TotalBytes);
            }

            // Downloads report every 64 KiB; the topic gets at most two a second of them.
            var now = _time.GetTimestamp();
            if (progress.Bytes < progress.TotalBytes && _time.GetElapsedTime(Interlocked.Read(ref _lastDownloadReport), now) < ProgressInterval)
            {
                return;
            }

            Interlocked.Exchange(ref _lastDownloadReport, now);
        }
        else
        {
            OtaLog.Stage(_logger, progress.Stage, progress.Bundle, progress.Release);
            if (progress.Refusal is { } refusal && progress.Stage == OtaStageNames.Refused)
            {
                OtaLog.Refused(_logger, refusal.Code, refusal.Message);
            }
        }

        _progress.Writer.TryWrite(progress);
    }

    /// <summary>Publishes the reported stages in order until the channel completes; after the stop began, for at most <see cref="DrainLimit"/>.</summary>
    private async Task PublishProgressAsync(CancellationToken stoppingToken)
    {
        var topic = Topics.OtaProgress(_device.DeviceId);
        using var drain = new CancellationTokenSource();
        await using var registration = stoppingToken.Register(() => drain.CancelAfter(DrainLimit)).ConfigureAwait(false);
        try
        {
            await foreach (var progress in _progress.Reader.ReadAllAsync(drain.Token).ConfigureAwait(false))
            {
                await _mqtt.TryPublishAsync(Channels.OtaProgress, topic, progress, drain.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (drain.IsCancellationRequested)
        {
        }
    }

    /// <summary>Turns the updater's stages into <c>ota/progress</c> events, in order.</summary>
    private sealed class Reporter(OtaService service) : IProgress<OtaProgress>
    {
        public void Report(OtaProgress value) => service.Report(new OtaProgressEvent
        {
            Stage = value.Stage,
            Bundle = value.Bundle,
            Release = value.Release,
            File = value.File,
            Bytes = value.Bytes,
            TotalBytes = value.TotalBytes,
            BytesPerSecond = Math.Round(value.BytesPerSecond),
            Refusal = value.Refusal is { } r ? new OtaRefusalInfo(r.Code.WireName(), r.Message) : null,
            At = service._time.GetUtcNow(),
        });
    }
}
