using System.Threading.Channels;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Status;

/// <summary>
/// Keeps the retained status document current: published on every (re)connection, when a health check or a model's
/// state changes, and every <see cref="StatusOptions.RefreshSeconds"/> for the uptime. Models come from every
/// <see cref="IModelStatusSource"/> the features register.
/// </summary>
internal sealed partial class StatusPublisher : BackgroundService
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    private readonly DeviceMetrics _metrics;
    private readonly IReadOnlyList<IModelStatusSource> _models;
    private readonly Ota.OtaSlots _ota;
    private readonly TimeProvider _time;
    private readonly StatusOptions _options;
    private readonly ILogger<StatusPublisher> _logger;
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public StatusPublisher(MqttConnection mqtt, DeviceContext device, HealthMonitor health, DeviceMetrics metrics, IEnumerable<IModelStatusSource> models, Ota.OtaSlots ota, TimeProvider time, IOptions<StatusOptions> options, ILogger<StatusPublisher> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _health = health;
        _metrics = metrics;
        _models = [.. models];
        _ota = ota;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _mqtt.OnConnected(PublishAsync);
        _health.Changed += Changed;
        _ota.Changed += Changed;
        foreach (var source in _models)
        {
            source.ModelsChanged += Changed;
        }
    }

    /// <summary>The status as it stands now.</summary>
    public StatusDocument Current()
    {
        var now = _time.GetUtcNow();
        return new StatusDocument
        {
            Online = true,
            DeviceId = _device.DeviceId,
            Version = DeviceContext.DaemonVersion,
            Profile = _device.ProfileSummary,
            StartedAt = _device.StartedAt,
            UptimeSeconds = (long)(now - _device.StartedAt).TotalSeconds,
            Models = [.. _models.SelectMany(m => m.StatusModels())],
            ExecutionProvider = _device.ExecutionProviderStatus,
            Health = _health.Snapshot(),
            FleetGroup = _device.FleetGroup,
            Ota = _ota.State(),
            Load = _metrics.Load(),
            UpdatedAt = now,
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // On every change, and every refresh period on the daemon's clock (for the uptime).
        using var refresh = new PeriodicTimer(TimeSpan.FromSeconds(_options.RefreshSeconds), _time);
        Task<bool>? tick = null;
        Task<bool>? changed = null;
        try
        {
            while (true)
            {
                tick ??= refresh.WaitForNextTickAsync(stoppingToken).AsTask();
                changed ??= _changed.Reader.WaitToReadAsync(stoppingToken).AsTask();
                if (await Task.WhenAny(tick, changed).ConfigureAwait(false) == tick)
                {
                    if (!await tick.ConfigureAwait(false))
                    {
                        return;
                    }

                    tick = null;
                }
                else
                {
                    await changed.ConfigureAwait(false);
                    _changed.Reader.TryRead(out _);
                    changed = null;
                }

                await PublishAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private void Changed() => _changed.Writer.TryWrite(true);

    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        _metrics.SampleCpu(); // the document's CPU figure covers the time since the previous document
        if (!await _mqtt.TryPublishAsync(Channels.Status, Topics.Status(_device.DeviceId), Current(), cancellationToken).ConfigureAwait(false))
        {
            StatusNotPublished(_logger);
        }
    }

    [LoggerMessage(2010, LogLevel.Debug, "Status not published: not connected")]
    private static partial void StatusNotPublished(ILogger logger);
}
