using Appliance.Contracts;
using Appliance.Daemon.Status;
using Appliance.Llm;
using Appliance.Profiles;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Llm;

/// <summary>
/// Owns the daemon's <see cref="LlmService"/>: loads the profile's language models (voice and summary) in the
/// background after start-up, so the daemon is ready at once and reports each model as it loads or fails, and
/// keeps the <c>llm</c> health check and the status's model list current.
/// </summary>
public sealed class LlmHost : IHostedService, IAsyncDisposable
{
    private readonly DeviceContext _device;
    private readonly HealthMonitor _health;
    private readonly string _modelsRoot;
    private readonly Dictionary<string, string> _featureById = new(StringComparer.Ordinal);
    private Task _initialLoads = Task.CompletedTask;

    public LlmHost(DeviceContext device, HealthMonitor health, IOptions<ModelsOptions> models, IOptions<LlmOptions> options, TimeProvider time, ILogger<LlmService> serviceLogger)
    {
        _device = device;
        _health = health;
        _modelsRoot = Path.GetFullPath(models.Value.Root);
        Service = new LlmService(
            LlmServiceOptions.FromProfile(device.Profile) with { MaxConcurrency = options.Value.MaxConcurrency, QueueCapacity = options.Value.QueueCapacity, AllowSpinning = options.Value.AllowSpinning },
            time,
            serviceLogger);
        Service.ModelStatusChanged += (_, _) => ReportHealth();
    }

    public LlmService Service { get; }

    /// <summary>Raised after any model's state changes, so the status can be republished.</summary>
    public event Action? ModelsChanged;

    /// <summary>Completes when the profile's models have been tried (each loaded or failed).</summary>
    public Task InitialLoads => _initialLoads;

    /// <summary>The models for the status document, with the feature each one serves.</summary>
    public IReadOnlyList<LoadedModel> StatusModels() =>
        [.. Service.Models.Select(m => new LoadedModel(
            _featureById.GetValueOrDefault(m.Id, "llm"),
            m.Id,
            m.State.ToString().ToLowerInvariant(),
            m.ExecutionProvider,
            m.Error?.ToString()))];

    /// <summary>Resolves a model path from the profile or an RPC: absolute as is, otherwise under Models:Root.</summary>
    public string ResolvePath(string path) => Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(_modelsRoot, path));

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var declared = new[] { ("voiceLlm", _device.Profile.Models.VoiceLlm), ("summaryLlm", _device.Profile.Models.SummaryLlm) }
            .Where(d => d.Item2 is not null)
            .Select(d => (Feature: d.Item1, Spec: d.Item2!))
            .ToList();
        foreach (var (feature, spec) in declared)
        {
            _featureById.TryAdd(spec.Id, feature);
        }

        ReportHealth();
        _initialLoads = Task.Run(() => LoadDeclaredAsync(declared), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // Loads are not cancellable half-way through native code; wait for them so nothing is torn down under them.
        await _initialLoads.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads (or replaces) a model at run time.</summary>
    public Task<LlmModelStatus> LoadAsync(ModelSpec spec, string feature, CancellationToken cancellationToken)
    {
        _featureById[spec.Id] = feature;
        return Service.LoadModelAsync(spec with { Path = ResolvePath(spec.Path) }, cancellationToken);
    }

    public ValueTask DisposeAsync() => Service.DisposeAsync();

    private async Task LoadDeclaredAsync(List<(string Feature, ModelSpec Spec)> declared)
    {
        // The service logs each load's outcome; the status and the llm health check carry it to clients.
        foreach (var (feature, spec) in declared)
        {
            await LoadAsync(spec, feature, CancellationToken.None).ConfigureAwait(false);
        }

        // The voice model answers requests that name no model: commands must be quick.
        if (_device.Profile.Models.VoiceLlm is { } voice)
        {
            Service.SetDefaultModel(voice.Id);
        }
    }

    private void ReportHealth()
    {
        var models = Service.Models;
        var failed = models.Where(m => m.State == LlmModelState.Failed).ToList();
        if (failed.Count > 0)
        {
            _health.Report("llm", HealthMonitor.Degraded, string.Join("; ", failed.Select(m => $"{m.Id}: {m.Error}")));
        }
        else if (models.Any(m => m.State == LlmModelState.Loaded))
        {
            _health.Report("llm", HealthMonitor.Ok, $"{models.Count(m => m.State == LlmModelState.Loaded)} model(s) loaded");
        }
        else
        {
            _health.Report("llm", HealthMonitor.Ok, models.Count == 0 ? "no language model in the profile" : "loading");
        }

        ModelsChanged?.Invoke();
    }
}
