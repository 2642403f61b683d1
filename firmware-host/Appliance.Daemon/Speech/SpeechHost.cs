using Appliance.Contracts;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Status;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Speech.WakeWord;
using Appliance.Speech.Whisper;
using Microsoft.Extensions.Hosting;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Owns the speech models of the profile: the Whisper transcriber (<c>models.asr</c>), the VAD model
/// (<c>models.vad</c>, with the energy detector as the fallback) and the wake-word folder (<c>models.wakeWord</c>).
/// They load in the background after start-up; each one's state goes on the status and into the <c>speech</c>
/// health check. Streaming detectors are stateful, so each user gets its own from <see cref="CreateVad"/> and
/// <see cref="CreateWakeWord"/>.
/// </summary>
public sealed class SpeechHost(DeviceContext device, HealthMonitor health, LlmHost llm) : IHostedService, IDisposable
{
    private readonly SpeechSessionOptions _sessionOptions = SpeechSessionOptions.FromProfile(device.Profile);
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private List<LoadedModel> _models = [];
    private Task _loads = Task.CompletedTask;
    private readonly Lazy<SpeechResult<SileroVadModel>> _vad = new(() => VoiceActivityDetectors.Load(Resolved(device.Profile.Models.Vad, llm), SpeechSessionOptions.FromProfile(device.Profile)));

    /// <summary>Raised after the models' states change.</summary>
    public event Action? ModelsChanged;

    /// <summary>The transcriber, once loaded; null when the profile has no ASR model or it failed to load.</summary>
    public WhisperTranscriber? Transcriber { get; private set; }

    /// <summary>Why there is no transcriber.</summary>
    public string? TranscriberProblem { get; private set; }

    /// <summary>Completes when every speech model has been tried.</summary>
    public Task Ready => _ready.Task;

    public IReadOnlyList<LoadedModel> StatusModels()
    {
        lock (_gate)
        {
            return _models;
        }
    }

    /// <summary>
    /// A new voice activity detector: Silero on the profile's model (loaded once and shared by every detector), or the
    /// energy detector with the reason.
    /// </summary>
    public VadChoice CreateVad() => VoiceActivityDetectors.Create(_vad.Value);

    /// <summary>A new wake-word detector from the profile's folder, or the reason there is none.</summary>
    public SpeechResult<WakeWordDetector> CreateWakeWord() =>
        device.Profile.Models.WakeWord is { } spec
            ? WakeWordDetector.Open(llm.ResolvePath(spec.Path), null, _sessionOptions)
            : SpeechResult.Failure<WakeWordDetector>(SpeechErrorCode.ModelMissing, "The profile names no wake-word model.");

    public Task StartAsync(CancellationToken cancellationToken)
    {
        health.Report("speech", HealthMonitor.Ok, "loading");
        _loads = Task.Run(Load, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => _loads.WaitAsync(cancellationToken);

    public void Dispose()
    {
        Transcriber?.Dispose();
        if (_vad is { IsValueCreated: true, Value.IsSuccess: true })
        {
            _vad.Value.Value!.Dispose();
        }
    }

    private void Load()
    {
        var models = new List<LoadedModel>();
        var problems = new List<string>();
        if (device.Profile.Models.Asr is { } asr)
        {
            var opened = WhisperTranscriber.Open(llm.ResolvePath(asr.Path), _sessionOptions);
            if (opened.IsSuccess)
            {
                Transcriber = opened.Value;
                models.Add(new LoadedModel("asr", asr.Id, "loaded", opened.Value!.Info.ExecutionProvider));
            }
            else
            {
                TranscriberProblem = $"{asr.Id}: {opened.Error!.Message}";
                problems.Add(TranscriberProblem);
                models.Add(new LoadedModel("asr", asr.Id, "failed", Error: opened.Error.Message));
            }
        }
        else
        {
            TranscriberProblem = "the profile names no ASR model";
        }

        if (device.Profile.Models.Vad is { } vadSpec)
        {
            var vad = CreateVad();
            models.Add(vad.FallbackReason is null
                ? new LoadedModel("vad", vadSpec.Id, "loaded", ((SileroVoiceActivityDetector)vad.Detector).ExecutionProvider)
                : new LoadedModel("vad", vadSpec.Id, "fallback", Error: $"energy detector in use: {vad.FallbackReason.Message}"));
            vad.Detector.Dispose();
        }

        if (device.Profile.Models.WakeWord is { } wakeSpec)
        {
            var wake = CreateWakeWord();
            using var detector = wake.Value;
            models.Add(wake.IsSuccess
                ? new LoadedModel("wakeWord", wakeSpec.Id, "loaded")
                : new LoadedModel("wakeWord", wakeSpec.Id, "failed", Error: wake.Error!.Message));
            if (!wake.IsSuccess)
            {
                problems.Add($"{wakeSpec.Id}: {wake.Error!.Message}");
            }
        }

        lock (_gate)
        {
            _models = models;
        }

        health.Report("speech", problems.Count == 0 ? HealthMonitor.Ok : HealthMonitor.Degraded, problems.Count == 0 ? $"{models.Count} speech model(s) ready" : string.Join("; ", problems));
        ModelsChanged?.Invoke();
        _ready.TrySetResult();
    }

    private static ModelSpec? Resolved(ModelSpec? spec, LlmHost llm) => spec is null ? null : spec with { Path = llm.ResolvePath(spec.Path) };
}
