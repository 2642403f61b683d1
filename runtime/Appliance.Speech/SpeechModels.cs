using Appliance.Inference;
using Appliance.Profiles;
using Appliance.Speech.Vad;
using Appliance.Speech.WakeWord;
using Appliance.Speech.Whisper;

namespace Appliance.Speech;

/// <summary>The speech models a profile names.</summary>
public enum SpeechModelKind
{
    /// <summary>The speech recognizer (Whisper).</summary>
    Asr,

    /// <summary>The voice activity detector (Silero).</summary>
    Vad,

    /// <summary>The wake-word detector (openWakeWord).</summary>
    WakeWord,
}

/// <summary>Where a speech model stands after <see cref="SpeechModels.Load"/>.</summary>
public enum SpeechModelState
{
    /// <summary>Loaded and in use.</summary>
    Loaded,

    /// <summary>It could not be loaded; the feature is unavailable.</summary>
    Failed,

    /// <summary>It could not be loaded and a simpler stand-in serves instead (the VAD on the energy detector).</summary>
    Fallback,
}

/// <summary>One speech model of a profile and where it stands.</summary>
/// <param name="Kind">Which model of the profile it is.</param>
/// <param name="Id">The model id from the profile.</param>
/// <param name="State">Loaded, failed, or fallen back.</param>
/// <param name="ExecutionProvider">The provider it runs on, when loaded.</param>
/// <param name="Error">Why it failed or fell back.</param>
public sealed record SpeechModelStatus(SpeechModelKind Kind, string Id, SpeechModelState State, string? ExecutionProvider = null, string? Error = null);

/// <summary>
/// The speech models of a device profile, shared by every user on the board: the Whisper transcriber (<c>asr</c>) with
/// the one <see cref="TranscriptionScheduler"/> that orders its use, the Silero VAD graph (<c>vad</c>, the energy
/// detector when it is missing) and the openWakeWord folder (<c>wakeWord</c>). <see cref="Load"/> runs once, off the
/// start-up path; streaming detectors are stateful, so each user gets its own from <see cref="CreateVad"/> and
/// <see cref="CreateWakeWord"/>. Thread-safe; owns the loaded models.
/// </summary>
/// <param name="models">The profile's models, their paths resolved.</param>
/// <param name="settings">Providers and threads for the sessions.</param>
/// <param name="transcription">The profile's languages and hallucination guards; the reference defaults when null.</param>
public sealed class SpeechModels(ModelSet models, InferenceSettings settings, TranscriptionSettings? transcription = null) : IDisposable
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lazy<SpeechResult<SileroVadModel>> _vad = new(() => VoiceActivityDetectors.Load(models.Vad, settings));
    private readonly Lock _gate = new();
    private IReadOnlyList<SpeechModelStatus> _status = [];
    private IReadOnlyList<string> _problems = [];

    /// <summary>Raised once <see cref="Load"/> has tried every model.</summary>
    public event Action? Changed;

    /// <summary>Completes when every speech model has been tried.</summary>
    public Task Ready => _ready.Task;

    /// <summary>The transcriber, once loaded; null when the profile has no ASR model or it failed to load.</summary>
    public WhisperTranscriber? Transcriber { get; private set; }

    /// <summary>Why there is no transcriber; null when there is one.</summary>
    public string? TranscriberProblem { get; private set; } = "the speech models are still loading";

    /// <summary>The device's languages and hallucination guards, for every transcription on <see cref="Transcriber"/>.</summary>
    public TranscriptionSettings Transcription { get; } = transcription ?? new();

    /// <summary>Orders every use of <see cref="Transcriber"/>.</summary>
    public TranscriptionScheduler Scheduler { get; } = new();

    /// <summary>The models with their states, after <see cref="Load"/>.</summary>
    public IReadOnlyList<SpeechModelStatus> Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>What failed to load, one line a model; empty when everything the profile names works.</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_gate)
            {
                return _problems;
            }
        }
    }

    /// <summary>
    /// A new voice activity detector: Silero on the profile's graph (loaded once and shared by every detector), or the
    /// energy detector with the reason. The caller owns and disposes the detector.
    /// </summary>
    public VadChoice CreateVad() => VoiceActivityDetectors.Create(_vad.Value);

    /// <summary>A new wake-word detector from the profile's folder (the caller disposes it), or the reason there is none.</summary>
    public SpeechResult<WakeWordDetector> CreateWakeWord() =>
        models.WakeWord is { } spec
            ? WakeWordDetector.Open(spec.Path, null, settings)
            : SpeechResult.Failure<WakeWordDetector>(SpeechErrorCode.ModelMissing, "The profile names no wake-word model.");

    /// <summary>
    /// Loads every model (blocking: run it off the start-up path) and completes <see cref="Ready"/> whatever happens, so
    /// that no caller waits forever: a model that fails is listed in <see cref="Problems"/>. Call it once.
    /// </summary>
    public void Load()
    {
        var status = new List<SpeechModelStatus>();
        var problems = new List<string>();
        try
        {
            LoadEach(status, problems);
        }
#pragma warning disable CA1031 // A loader's bug must not leave every transcription waiting: it is reported as a problem.
        catch (Exception e)
#pragma warning restore CA1031
        {
            problems.Add($"loading the speech models failed: {e.Message}");
            if (Transcriber is null)
            {
                TranscriberProblem = problems[^1];
            }
        }
        finally
        {
            lock (_gate)
            {
                _status = status;
                _problems = problems;
            }

            Changed?.Invoke();
            _ready.TrySetResult();
        }
    }

    private void LoadEach(List<SpeechModelStatus> status, List<string> problems)
    {
        if (models.Asr is { } asr)
        {
            var opened = WhisperTranscriber.Open(asr.Path, settings);
            if (opened.IsSuccess)
            {
                Transcriber = opened.Value;
                TranscriberProblem = null;
                status.Add(new SpeechModelStatus(SpeechModelKind.Asr, asr.Id, SpeechModelState.Loaded, opened.Value.Info.ExecutionProvider));
            }
            else
            {
                TranscriberProblem = $"{asr.Id}: {opened.Error.Message}";
                problems.Add(TranscriberProblem);
                status.Add(new SpeechModelStatus(SpeechModelKind.Asr, asr.Id, SpeechModelState.Failed, Error: opened.Error.Message));
            }
        }
        else
        {
            TranscriberProblem = "the profile names no ASR model";
        }

        if (models.Vad is { } vadSpec)
        {
            var loaded = _vad.Value;
            status.Add(loaded.IsSuccess
                ? new SpeechModelStatus(SpeechModelKind.Vad, vadSpec.Id, SpeechModelState.Loaded, loaded.Value!.ExecutionProvider)
                : new SpeechModelStatus(SpeechModelKind.Vad, vadSpec.Id, SpeechModelState.Fallback, Error: $"energy detector in use: {loaded.Error!.Message}"));
        }

        if (models.WakeWord is { } wakeSpec)
        {
            var wake = CreateWakeWord();
            using var detector = wake.Value;
            status.Add(wake.IsSuccess
                ? new SpeechModelStatus(SpeechModelKind.WakeWord, wakeSpec.Id, SpeechModelState.Loaded)
                : new SpeechModelStatus(SpeechModelKind.WakeWord, wakeSpec.Id, SpeechModelState.Failed, Error: wake.Error.Message));
            if (!wake.IsSuccess)
            {
                problems.Add($"{wakeSpec.Id}: {wake.Error.Message}");
            }
        }
    }

    /// <summary>Releases the transcriber and the VAD graph; call it after the last user is done.</summary>
    public void Dispose()
    {
        Transcriber?.Dispose();
        if (_vad is { IsValueCreated: true, Value.IsSuccess: true })
        {
            _vad.Value.Value.Dispose();
        }
    }
}
