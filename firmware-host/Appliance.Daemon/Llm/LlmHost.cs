using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.Profiles;
using Microsoft.Extensions.Hosting;

namespace Appliance.Daemon.Llm;

/// <summary>
/// Runs the daemon's <see cref="LlmService"/>: loads the profile's language models (voice and summary) in the background
/// after start-up, so the daemon is ready at once and reports each model as it loads or fails, and keeps the <c>llm</c>
/// health check and the status's model list current. The load task is owned and awaited at stop.
/// </summary>
internal sealed class LlmHost : IHostedService, IModelStatusSource, IDisposable
{
    private readonly LlmService _service;
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    private readonly ModelPaths _paths;
    private readonly Dictionary<string, string> _featureById = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stopping = new();
    private Task _initialLoads = Task.CompletedTask;

    public LlmHost(LlmService service, DeviceContext device, HealthMonitor health, ModelPaths paths)
    {
        _service = service;
        _device = device;
        _health = health;
        _paths = paths;
        service.ModelStatusChanged += (_, _) => ReportHealth();
    }

    /// <summary>Raised after any model's state changes, so the status can be republished.</summary>
    public event Action? ModelsChanged;

    /// <summary>Completes when the profile's models have been tried (each loaded or failed).</summary>
    public Task InitialLoads => _initialLoads;

    public IReadOnlyList<StatusModel> StatusModels()
    {
        lock (_gate)
        {
            return [.. _service.Models.Select(m => new StatusModel(
                _featureById.GetValueOrDefault(m.Id, ModelFeatures.Llm),
                m.Id,
                LanguageModels.State(m.State),
                m.ExecutionProvider,
                m.Error?.ToString()))];
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var declared = new[] { (ModelFeatures.VoiceLlm, _device.Profile.Models.VoiceLlm), (ModelFeatures.SummaryLlm, _device.Profile.Models.SummaryLlm) }
            .Where(d => d.Item2 is not null)
            .Select(d => (Feature: d.Item1, Spec: d.Item2!))
            .ToList();
        lock (_gate)
        {
            foreach (var (feature, spec) in declared)
            {
                _featureById.TryAdd(spec.Id, feature);
            }
        }

        ReportHealth();
        _initialLoads = Task.Run(() => LoadDeclaredAsync(declared, _stopping.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A load half-way through native code is not interrupted; the next one is not started.
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _initialLoads.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads (or replaces) a model at run time; a relative path is under <c>Models:Root</c>.</summary>
    public Task<LlmModelStatus> LoadAsync(ModelSpec spec, string feature, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _featureById[spec.Id] = feature;
        }

        return _service.LoadModelAsync(_paths.Resolve(spec)!, cancellationToken);
    }

    private async Task LoadDeclaredAsync(List<(string Feature, ModelSpec Spec)> declared, CancellationToken cancellationToken)
    {
        // The service logs each load's outcome; the status and the llm health check carry it to clients.
        try
        {
            foreach (var (feature, spec) in declared)
            {
                await LoadAsync(spec, feature, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // stopping before every model was loaded
        }

        // The voice model answers requests that name no model: commands must be quick.
        if (_device.Profile.Models.VoiceLlm is { } voice)
        {
            _service.SetDefaultModel(voice.Id);
        }
    }

    private void ReportHealth()
    {
        var models = _service.Models;
        var failed = models.Where(m => m.State == LlmModelState.Failed).ToList();
        if (failed.Count > 0)
        {
            _health.Report("llm", HealthStatus.Degraded, string.Join("; ", failed.Select(m => $"{m.Id}: {m.Error}")));
        }
        else if (models.Any(m => m.State == LlmModelState.Loaded))
        {
            _health.Report("llm", HealthStatus.Ok, $"{models.Count(m => m.State == LlmModelState.Loaded)} model(s) loaded");
        }
        else
        {
            _health.Report("llm", HealthStatus.Ok, models.Count == 0 ? "no language model in the profile" : "loading");
        }

        ModelsChanged?.Invoke();
    }

    public void Dispose() => _stopping.Dispose();
}
