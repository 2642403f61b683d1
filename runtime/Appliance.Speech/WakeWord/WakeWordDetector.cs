using Appliance.Audio;
using Appliance.Inference;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.WakeWord;

/// <summary>Options of <see cref="WakeWordDetector"/>.</summary>
public sealed record WakeWordOptions
{
    /// <summary>Classifier score at or above which the wake word is reported.</summary>
    public float Threshold { get; init; } = 0.5f;

    /// <summary>After a detection, further ones are suppressed for this much audio.</summary>
    public TimeSpan RefractoryPeriod { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The classifier's file name in the model folder; null takes the only <c>.onnx</c> file besides the
    /// mel-spectrogram and embedding graphs.
    /// </summary>
    public string? ClassifierFileName { get; init; }
}

/// <summary>The wake word was heard.</summary>
/// <param name="Sample">End of the 80 ms step whose score crossed the threshold, in samples at 16 kHz since the start (or last reset).</param>
/// <param name="Score">The classifier's score for that step.</param>
public readonly record struct WakeWordDetection(long Sample, float Score)
{
    /// <summary><see cref="Sample"/> as time.</summary>
    public TimeSpan Time => SpeechAudio.Duration(Sample);
}

/// <summary>
/// The openWakeWord pipeline on ONNX Runtime, streaming over 16 kHz mono audio in 80 ms (1280-sample) steps:
/// <c>melspectrogram.onnx</c> on each step plus the 480 samples before it (8 new frames of 32 mel bins, scaled
/// <c>x / 10 + 2</c>; audio at 16-bit scale), <c>embedding_model.onnx</c> on the last 76 frames (one 96-value embedding
/// per step), and the maker's classifier on the last 16 embeddings (its window read from the graph). The buffers
/// start as openWakeWord's do (mel frames of ones) and the first 5 scores after a reset are ignored while they fill.
/// Owns three sessions; dispose it. Not thread-safe.
/// </summary>
public sealed class WakeWordDetector : IDisposable
{
    /// <summary>Samples per step (80 ms).</summary>
    public const int StepSamples = 1280;

    /// <summary>File name of the mel-spectrogram graph in the model folder.</summary>
    public const string MelFileName = "melspectrogram.onnx";

    /// <summary>File name of the embedding graph in the model folder.</summary>
    public const string EmbeddingFileName = "embedding_model.onnx";

    private const int MelContextSamples = 480;
    private const int MelBins = 32;
    private const int EmbeddingFrames = 76;
    private const int EmbeddingSize = 96;
    private const int WarmUpSteps = 5;

    private readonly InferenceSession _mel;
    private readonly InferenceSession _embedding;
    private readonly InferenceSession _classifier;
    private readonly RunOptions _runOptions = new();
    private readonly WakeWordOptions _options;
    private readonly long _refractorySamples;
    private readonly int _classifierWindow;
    private readonly float[] _audio = new float[MelContextSamples + StepSamples];
    private readonly float[] _melFrames = new float[EmbeddingFrames * MelBins];
    private readonly float[] _embeddings;
    private readonly float[] _initialEmbedding;
    private int _filled;
    private long _processed;
    private long _steps;
    private long? _lastDetection;

    private WakeWordDetector(InferenceSession mel, InferenceSession embedding, InferenceSession classifier, string wakeWord, WakeWordOptions options)
    {
        _mel = mel;
        _embedding = embedding;
        _classifier = classifier;
        _options = options;
        WakeWord = wakeWord;
        _refractorySamples = (long)(options.RefractoryPeriod.TotalSeconds * SpeechAudio.SampleRate);
        var dims = classifier.InputMetadata.Values.First().Dimensions;
        _classifierWindow = dims.Length == 3 && dims[1] > 0 ? dims[1] : 16;
        _embeddings = new float[_classifierWindow * EmbeddingSize];
        Array.Fill(_melFrames, 1f);
        _initialEmbedding = Embed();
        Reset();
    }

    /// <summary>The classifier's name (its file name without extension), e.g. <c>hey_jarvis_v0.1</c>.</summary>
    public string WakeWord { get; }

    /// <summary>The score of the latest step.</summary>
    public float LastScore { get; private set; }

    /// <summary>The highest score since the last reset (for tuning thresholds).</summary>
    public float PeakScore { get; private set; }

    /// <summary>Where <see cref="PeakScore"/> happened (end of its step), in samples.</summary>
    public long PeakSample { get; private set; }

    /// <summary>
    /// Loads the three graphs from <paramref name="folder"/>. A missing folder or file, an ambiguous classifier, or a
    /// graph that does not load come back as the result's error.
    /// </summary>
    public static SpeechResult<WakeWordDetector> Open(string folder, WakeWordOptions? options = null, InferenceSettings? settings = null)
    {
        options ??= new WakeWordOptions();
        settings ??= InferenceSettings.Cpu(1);
        if (options.Threshold is <= 0 or > 1 || options.RefractoryPeriod < TimeSpan.Zero)
        {
            return SpeechResult.Failure<WakeWordDetector>(SpeechErrorCode.InvalidOptions, "Threshold must be in (0, 1] and RefractoryPeriod not negative.");
        }

        if (!Directory.Exists(folder))
        {
            return SpeechResult.Failure<WakeWordDetector>(SpeechErrorCode.ModelMissing, $"The wake-word folder {folder} does not exist.");
        }

        var classifierName = options.ClassifierFileName;
        if (classifierName is null)
        {
            var candidates = Directory.EnumerateFiles(folder, "*.onnx").Select(Path.GetFileName)
                .Where(n => n is not (MelFileName or EmbeddingFileName or "silero_vad.onnx")).ToList();
            if (candidates.Count != 1)
            {
                return SpeechResult.Failure<WakeWordDetector>(
                    SpeechErrorCode.ModelMissing,
                    $"{folder} must hold exactly one classifier graph besides {MelFileName} and {EmbeddingFileName} (found: {string.Join(", ", candidates)}); name it in ClassifierFileName.");
            }

            classifierName = candidates[0]!;
        }

        var opened = new List<InferenceSession>();
        foreach (var name in new[] { MelFileName, EmbeddingFileName, classifierName })
        {
            var session = SpeechSessions.Open(Path.Combine(folder, name), settings);
            if (!session.IsSuccess)
            {
                opened.ForEach(s => s.Dispose());
                return SpeechResult.Failure<WakeWordDetector>(session.Error.Code, session.Error.Message);
            }

            opened.Add(session.Value.Session);
        }

        return SpeechResult.Success<WakeWordDetector>(new WakeWordDetector(opened[0], opened[1], opened[2], Path.GetFileNameWithoutExtension(classifierName), options));
    }

    /// <summary>Feeds 16 kHz mono samples in [-1, 1] and returns the detections they completed (often none).</summary>
    public IReadOnlyList<WakeWordDetection> Process(ReadOnlySpan<float> samples)
    {
        List<WakeWordDetection>? detections = null;
        while (!samples.IsEmpty)
        {
            var take = Math.Min(samples.Length, StepSamples - _filled);
            var destination = _audio.AsSpan(MelContextSamples + _filled, take);
            for (var i = 0; i < take; i++)
            {
                destination[i] = samples[i] * 32767f;
            }

            samples = samples[take..];
            _filled += take;
            _processed += take;
            if (_filled == StepSamples)
            {
                _filled = 0;
                if (Step() is { } detection)
                {
                    (detections ??= []).Add(detection);
                }
            }
        }

        return detections ?? (IReadOnlyList<WakeWordDetection>)[];
    }

    /// <summary>Forgets the stream and restarts counting samples at 0.</summary>
    public void Reset()
    {
        Array.Clear(_audio);
        Array.Fill(_melFrames, 1f);
        for (var i = 0; i < _classifierWindow; i++)
        {
            _initialEmbedding.CopyTo(_embeddings, i * EmbeddingSize);
        }

        _filled = 0;
        _processed = 0;
        _steps = 0;
        _lastDetection = null;
        LastScore = PeakScore = 0;
        PeakSample = 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _runOptions.Dispose();
        _mel.Dispose();
        _embedding.Dispose();
        _classifier.Dispose();
    }

    private WakeWordDetection? Step()
    {
        AppendMelFrames();
        Array.Copy(_embeddings, EmbeddingSize, _embeddings, 0, _embeddings.Length - EmbeddingSize);
        Embed().CopyTo(_embeddings, _embeddings.Length - EmbeddingSize);
        _audio.AsSpan(StepSamples).CopyTo(_audio);
        _steps++;

        float score;
        using (var input = OrtValue.CreateTensorValueFromMemory(_embeddings, [1, _classifierWindow, EmbeddingSize]))
        using (var outputs = _classifier.Run(_runOptions, [_classifier.InputNames[0]], [input], [_classifier.OutputNames[0]]))
        {
            score = outputs[0].GetTensorDataAsSpan<float>()[0];
        }

        LastScore = _steps <= WarmUpSteps ? 0 : score;
        if (LastScore > PeakScore)
        {
            PeakScore = LastScore;
            PeakSample = _processed;
        }

        if (LastScore < _options.Threshold || _processed - _lastDetection < _refractorySamples)
        {
            return null;
        }

        _lastDetection = _processed;
        return new WakeWordDetection(_processed, LastScore);
    }

    private void AppendMelFrames()
    {
        using var input = OrtValue.CreateTensorValueFromMemory(_audio, [1, _audio.Length]);
        using var outputs = _mel.Run(_runOptions, [_mel.InputNames[0]], [input], [_mel.OutputNames[0]]);
        var frames = outputs[0].GetTensorDataAsSpan<float>();
        var count = Math.Min(frames.Length / MelBins, EmbeddingFrames);
        var fresh = frames[^(count * MelBins)..];
        Array.Copy(_melFrames, count * MelBins, _melFrames, 0, _melFrames.Length - (count * MelBins));
        var tail = _melFrames.AsSpan(_melFrames.Length - (count * MelBins));
        for (var i = 0; i < fresh.Length; i++)
        {
            tail[i] = (fresh[i] / 10f) + 2f;
        }
    }

    private float[] Embed()
    {
        using var input = OrtValue.CreateTensorValueFromMemory(_melFrames, [1, EmbeddingFrames, MelBins, 1]);
        using var outputs = _embedding.Run(_runOptions, [_embedding.InputNames[0]], [input], [_embedding.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>()[..EmbeddingSize].ToArray();
    }
}
