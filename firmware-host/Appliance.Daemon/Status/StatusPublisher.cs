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
    private readonly IReadOnlyList<IModelStatusSource> _models;
    private readonly TimeProvider _time;
    private readonly StatusOptions _options;
    private readonly ILogger<StatusPublisher> _logger;
    private readonly SemaphoreSlim _changed = new(0);

    public StatusPublisher(MqttConnection mqtt, DeviceContext device, HealthMonitor health, IEnumerable<IModelStatusSource> models, TimeProvider time, IOptions<StatusOptions> options, ILogger<StatusPublisher> logger)
    {
        _mqtt = mqtt;
        _device = device;
        _health = health;
        _models = [.. models];
        _time = time;
        _options = options.Value;
        _logger = logger;
        _mqtt.OnConnected(PublishAsync);
        _health.Changed += () => _changed.Release();
        foreach (var source in _models)
        {
            source.ModelsChanged += () => _changed.Release();
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
            Version = _device.Version,
            Profile = _device.ProfileSummary,
            StartedAt = _device.StartedAt,
            UptimeSeconds = (long)(now - _device.StartedAt).TotalSeconds,
            Models = [.. _models.SelectMany(m => m.StatusModels())],
            ExecutionProvider = _device.ExecutionProviderStatus,
            Health = _health.Snapshot(),
            UpdatedAt = now,
        };
    }

    public override void Dispose()
    {
        _changed.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var refresh = TimeSpan.FromSeconds(_options.RefreshSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Either a change or the refresh period, whichever comes first.
                await _changed.WaitAsync(refresh, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            await PublishAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        if (!await _mqtt.TryPublishAsync(Channels.Status, Topics.Status(_device.DeviceId), Current(), cancellationToken).ConfigureAwait(false))
        {
            StatusNotPublished(_logger);
        }
    }

    [LoggerMessage(2010, LogLevel.Debug, "Status not published: not connected")]
    private static partial void StatusNotPublished(ILogger logger);
}
