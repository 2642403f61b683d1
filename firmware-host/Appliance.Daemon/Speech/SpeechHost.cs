using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Speech;
using Microsoft.Extensions.Hosting;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Loads the profile's <see cref="SpeechModels"/> in the background after start-up (the daemon is ready at once), then
/// reports each model on the status and the <c>speech</c> health check. The load task is owned and awaited at stop.
/// </summary>
internal sealed class SpeechHost(SpeechModels models, HealthMonitor health) : IHostedService, IModelStatusSource
{
    private Task _loads = Task.CompletedTask;

    /// <summary>Raised after the models' states change.</summary>
    public event Action? ModelsChanged
    {
        add => models.Changed += value;
        remove => models.Changed -= value;
    }

    public IReadOnlyList<StatusModel> StatusModels() =>
        [.. models.Status.Select(m => new StatusModel(Feature(m.Kind), m.Id, State(m.State), m.ExecutionProvider, m.Error))];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        health.Report("speech", HealthStatus.Ok, "loading");
        _loads = Task.Run(
            () =>
            {
                models.Load();
                var problems = models.Problems;
                health.Report(
                    "speech",
                    problems.Count == 0 ? HealthStatus.Ok : HealthStatus.Degraded,
                    problems.Count == 0 ? $"{models.Status.Count} speech model(s) ready" : string.Join("; ", problems));
            },
            CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Waits for a load in progress: it cannot be stopped half-way through native code.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _loads.WaitAsync(cancellationToken);

    private static string Feature(SpeechModelKind kind) => kind switch
    {
        SpeechModelKind.Asr => ModelFeatures.Asr,
        SpeechModelKind.Vad => ModelFeatures.Vad,
        SpeechModelKind.WakeWord => ModelFeatures.WakeWord,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a speech model"),
    };

    private static string State(SpeechModelState state) => state switch
    {
        SpeechModelState.Loaded => ModelStates.Loaded,
        SpeechModelState.Failed => ModelStates.Failed,
        SpeechModelState.Fallback => ModelStates.Fallback,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not a speech model state"),
    };
}
