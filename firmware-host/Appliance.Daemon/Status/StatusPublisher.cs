using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Speech;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Status;

/// <summary>
/// Keeps the retained status document current: published on every (re)connection, when a health check
/// or a model's state changes, and every <see cref="StatusOptions.RefreshSeconds"/> for the uptime.
/// </summary>
internal sealed class StatusPublisher : BackgroundService
{
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    private readonly TimeProvider _time;
    private readonly StatusOptions _options;
    private readonly ILogger<StatusPublisher> _logger;
    private readonly SemaphoreSlim _changed = new(0);

    private readonly LlmHost _llm;
    private readonly SpeechHost _speech;

    public StatusPublisher(MqttConnection mqtt, DeviceContext device, HealthMonitor health, LlmHost llm, SpeechHost speech, TimeProvider time, IOptions<StatusOptions> options, ILogger<StatusPublisher> logger)
    {
        _llm = llm;
        _speech = speech;
        _mqtt = mqtt;
        _device = device;
        _health = health;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _mqtt.OnConnected(PublishAsync);
        _health.Changed += () => _changed.Release();
        _llm.ModelsChanged += () => _changed.Release();
        _speech.ModelsChanged += () => _changed.Release();
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
            Models = [.. _llm.StatusModels(), .. _speech.StatusModels()],
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
                // Either a health change or the refresh period, whichever comes first.
                using var period = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                period.CancelAfter(refresh);
                await _changed.WaitAsync(period.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                // The refresh period ran out.
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
        if (!await _mqtt.TryPublishJsonAsync(Topics.Status(_device.DeviceId), Current(), MqttQualityOfServiceLevel.AtLeastOnce, retain: true, cancellationToken).ConfigureAwait(false))
        {
            Log.StatusNotPublished(_logger);
        }
    }
}
