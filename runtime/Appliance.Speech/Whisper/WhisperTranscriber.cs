using System.Collections.Concurrent;
using Appliance.Inference;
using System.Runtime.CompilerServices;
using Appliance.Audio;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech.Whisper;

/// <summary>
/// Whisper speech recognition on ONNX Runtime over a model folder in the transformers.js / Optimum layout
/// (<c>onnx/encoder_model.onnx</c> with <c>onnx/decoder_model_merged.onnx</c>, or the split
/// <c>decoder_model.onnx</c> + <c>decoder_with_past_model.onnx</c>; <c>config.json</c>,
/// <c>generation_config.json</c>, <c>preprocessor_config.json</c>, <c>tokenizer.json</c>). Audio is 16 kHz mono,
/// cut into windows of at most 30 s (on VAD boundaries when given), each decoded greedily or with beam search, in a
/// given or detected language, with or without timestamps. Bad input and inference failures come back as values;
/// cancellation ends the stream at the next decoder step and aborts a running one through
/// <see cref="RunOptions.Terminate"/>. Owns its sessions; dispose it after the last transcription. Transcriptions may
/// run concurrently (ONNX Runtime sessions are thread-safe), each on the thread pool.
/// </summary>
public sealed class WhisperTranscriber : IDisposable
{
    private const int MaxBeamSize = 16;
    private readonly WhisperModel _model;
    private readonly WhisperLogMel _features;
    private readonly ConcurrentBag<WindowBuffers> _spareBuffers = [];

    private WhisperTranscriber(WhisperModel model)
    {
        _model = model;
        _features = new WhisperLogMel(model.Info.MelBins);
    }

    /// <summary>What the folder declares and where it runs.</summary>
    public WhisperModelInfo Info => _model.Info;

    /// <summary>The folder's tokenizer.</summary>
    public WhisperTokenizer Tokenizer => _model.Tokenizer;

    /// <summary>
    /// Loads the model in <paramref name="folder"/> with the profile's providers (falling back to CPU when the chosen
    /// one cannot be appended or cannot run the graphs). Missing or broken files come back as the result's error.
    /// </summary>
    public static SpeechResult<WhisperTranscriber> Open(string folder, InferenceSettings? settings = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        var model = WhisperModel.Open(folder, settings ?? new InferenceSettings());
        return model.IsSuccess ? SpeechResult.Success(new WhisperTranscriber(model.Value)) : SpeechResult.Failure<WhisperTranscriber>(model.Error);
    }

    /// <summary>
    /// Transcribes <paramref name="audio"/> (16 kHz mono), yielding each segment as soon as its window is decoded, then
    /// one <see cref="TranscriptionCompleted"/> or <see cref="TranscriptionFailed"/>. Never throws for bad input,
    /// inference failures or cancellation. The caller must not change <paramref name="audio"/> until the stream ends.
    /// </summary>
    public async IAsyncEnumerable<TranscriptionEvent> StreamAsync(ReadOnlyMemory<float> audio, TranscriptionOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new TranscriptionOptions();
        if (Validate(audio, options) is { } invalid)
        {
            yield return new TranscriptionFailed(invalid);
            yield break;
        }

        var windows = LongFormPlanner.Plan(audio.Span, options.Speech, WhisperLogMel.WindowSamples);
        using var runOptions = new RunOptions();
        using var registration = cancellationToken.Register(() => runOptions.Terminate = true);
        var steps = new StepCounter(options.DecoderSteps, cancellationToken);
        var previousText = new List<int>();
        for (var index = 0; index < windows.Count; index++)
        {
            var (start, end) = windows[index];
            var window = index;
            var outcome = await Task.Run(() => DecodeWindow(audio, start, end, window, options, previousText, runOptions, steps), CancellationToken.None).ConfigureAwait(false);
            if (outcome.Cancelled)
            {
                yield return new TranscriptionCompleted(index, Cancelled: true);
                yield break;
            }

            if (outcome.Error is { } error)
            {
                yield return new TranscriptionFailed(error);
                yield break;
            }

            if (outcome.Decoded is { } decoded)
            {
                yield return decoded;
            }

            foreach (var segment in outcome.Segments)
            {
                yield return new RecognizedSegmentEvent(segment);
            }
        }

        yield return new TranscriptionCompleted(windows.Count, Cancelled: false);
    }

    /// <summary>Transcribes the whole of <paramref name="audio"/>; see <see cref="StreamAsync"/>.</summary>
    public async Task<TranscriptionResult> TranscribeAsync(ReadOnlyMemory<float> audio, TranscriptionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var segments = new List<RecognizedSegment>();
        await foreach (var e in StreamAsync(audio, options, cancellationToken).ConfigureAwait(false))
        {
            switch (e)
            {
                case RecognizedSegmentEvent s:
                    segments.Add(s.Segment);
                    break;
                case TranscriptionFailed f:
                    return new TranscriptionResult(segments, f.Error, Cancelled: false);
                case TranscriptionCompleted c:
                    return new TranscriptionResult(segments, null, c.Cancelled);
            }
        }

        return new TranscriptionResult(segments, null, Cancelled: false);
    }

    /// <summary>The most likely language of the first 30 s of <paramref name="audio"/>, with its probability among languages.</summary>
    public SpeechResult<DetectedLanguage> DetectLanguage(ReadOnlySpan<float> audio)
    {
        if (audio.IsEmpty)
        {
            return SpeechResult.Failure<DetectedLanguage>(SpeechErrorCode.EmptyAudio, "The audio holds no samples.");
        }

        using var runOptions = new RunOptions();
        try
        {
            var buffers = TakeBuffers();
            using var hidden = EncodeWindow(audio, buffers, runOptions);
            var (language, probability) = new WhisperDecoding(_model, runOptions, () => { }, buffers).DetectLanguage(hidden);
            _spareBuffers.Add(buffers);
            return SpeechResult.Success(new DetectedLanguage(language, probability));
        }
        catch (OnnxRuntimeException ex)
        {
            return SpeechResult.Failure<DetectedLanguage>(SpeechErrorCode.InferenceFailed, ex.Message);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _model.Dispose();

    private SpeechError? Validate(ReadOnlyMemory<float> audio, TranscriptionOptions options)
    {
        if (audio.IsEmpty)
        {
            return new SpeechError(SpeechErrorCode.EmptyAudio, "The audio holds no samples.");
        }

        var settings = options.Settings;
        foreach (var code in (settings.Languages ?? []).Append(settings.Language).Append(options.Language).OfType<string>())
        {
            if (!Tokenizer.LanguageIds.ContainsKey(code))
            {
                return new SpeechError(SpeechErrorCode.UnknownLanguage, $"'{code}' is not a language of this model (codes such as en, fa, ar, zh; {Tokenizer.LanguageIds.Count} in all).");
            }
        }

        if (settings.Languages is { Count: 0 })
        {
            return new SpeechError(SpeechErrorCode.InvalidOptions, "The device's language list is empty: list at least one language, or none to allow all.");
        }

        if (options.Language is { } asked && settings.Languages is { } allowed && !allowed.Contains(asked, StringComparer.Ordinal))
        {
            return new SpeechError(SpeechErrorCode.UnknownLanguage, $"'{asked}' is not one of this device's languages ({string.Join(", ", allowed)}).");
        }

        if (options.Language is { } requested && settings.Language is { } only && requested != only)
        {
            return new SpeechError(SpeechErrorCode.UnknownLanguage, $"'{requested}' is not this device's language: it transcribes in {only} only.");
        }

        if (options.BeamSize is < 1 or > MaxBeamSize)
        {
            return new SpeechError(SpeechErrorCode.InvalidOptions, $"BeamSize must be between 1 and {MaxBeamSize}.");
        }

        return options.MaxNewTokens < 1 ? new SpeechError(SpeechErrorCode.InvalidOptions, "MaxNewTokens must be at least 1.") : null;
    }

    private WindowOutcome DecodeWindow(ReadOnlyMemory<float> audio, long start, long end, int window, TranscriptionOptions options, List<int> previousText, RunOptions runOptions, StepCounter steps)
    {
        try
        {
            steps.ThrowIfCancelled();
            var settings = options.Settings;
            var buffers = TakeBuffers();
            using var hidden = EncodeWindow(audio.Span[(int)start..(int)end], buffers, runOptions);
            var decoding = new WhisperDecoding(_model, runOptions, steps.BeforeStep, buffers);
            var language = options.Language ?? settings.Language ?? decoding.DetectLanguage(hidden, settings.Languages).Language;
            List<int> prompt = [];
            if (settings.ConditionOnPreviousText && previousText.Count > 0 && Tokenizer.StartOfPrevious is { } startOfPrevious)
            {
                // The reference decoder gives at most half the decoder's context to the previous text.
                prompt = [startOfPrevious, .. previousText.TakeLast((_model.Info.MaxTargetPositions / 2) - 1)];
            }

            var sotIndex = prompt.Count;
            prompt.AddRange(options.Timestamps
                ? [Tokenizer.StartOfTranscript, Tokenizer.LanguageIds[language], Tokenizer.Transcribe]
                : [Tokenizer.StartOfTranscript, Tokenizer.LanguageIds[language], Tokenizer.Transcribe, Tokenizer.NoTimestamps]);
            var decoded = decoding.Decode(hidden, [.. prompt], sotIndex, options.Timestamps, options.BeamSize, options.MaxNewTokens, settings, seed: window);
            _spareBuffers.Add(buffers); // a window that fails leaves its buffers to the GC
            var offset = TimeSpan.FromSeconds(start / (double)SpeechAudio.SampleRate);
            var length = TimeSpan.FromSeconds((end - start) / (double)SpeechAudio.SampleRate);

            // As the reference decoder does: a window decoded at a high temperature does not prompt the next one, and a
            // window without speech leaves the prompt as it was.
            if (decoded.Temperature > 0.5)
            {
                previousText.Clear();
            }
            else if (decoded.Verdict != WindowVerdict.NoSpeech)
            {
                previousText.AddRange(decoded.Tokens);
            }

            var report = new WindowDecodedEvent(window, offset, offset + length, decoded.Verdict, decoded.Temperature, decoded.Fallbacks, decoded.AverageLogProbability, decoded.CompressionRatio, decoded.NoSpeechProbability);
            var segments = decoded.Tokens.Count == 0 ? [] : Segments(decoded.Tokens, language, window, offset, length, options.Timestamps);
            return new WindowOutcome(segments, null, false, report);
        }
        catch (OperationCanceledException)
        {
            return new WindowOutcome([], null, true);
        }
        catch (OnnxRuntimeException) when (steps.IsCancelled)
        {
            // RunOptions.Terminate aborted the step in flight.
            return new WindowOutcome([], null, true);
        }
        catch (OnnxRuntimeException ex)
        {
            return new WindowOutcome([], new SpeechError(SpeechErrorCode.InferenceFailed, $"Window {window}: {ex.Message}"), false);
        }
    }

    /// <summary>A window's buffers: a spare set when one is free (as many sets are kept as windows ever decoded at once).</summary>
    private WindowBuffers TakeBuffers() => _spareBuffers.TryTake(out var spare) ? spare : new WindowBuffers();

    /// <summary>The encoder's output for one window of 16 kHz samples, its features computed into <paramref name="buffers"/>.</summary>
    private OrtValue EncodeWindow(ReadOnlySpan<float> samples, WindowBuffers buffers, RunOptions runOptions)
    {
        var features = buffers.Features ??= new float[_features.WindowFeatureLength];
        _features.ComputeWindow(samples, features);
        return _model.Encode(features, runOptions);
    }

    private List<RecognizedSegment> Segments(IReadOnlyList<int> tokens, string language, int window, TimeSpan offset, TimeSpan length, bool timestamps)
    {
        if (!timestamps)
        {
            return [new RecognizedSegment(offset, offset + length, Tokenizer.Decode(tokens), tokens, language, window)];
        }

        // A timestamp can point past the audio of a window shorter than 30 s (the last one); it is held at its end.
        TimeSpan At(double seconds) => offset + TimeSpan.FromSeconds(Math.Min(seconds, length.TotalSeconds));
        var segments = new List<RecognizedSegment>();
        var current = new List<int>();
        double? opened = null;
        foreach (var token in tokens)
        {
            current.Add(token);
            if (!Tokenizer.IsTimestamp(token))
            {
                continue;
            }

            var seconds = Tokenizer.TimestampSeconds(token);
            if (opened is not { } from)
            {
                opened = seconds;
                continue;
            }

            segments.Add(new RecognizedSegment(At(from), At(seconds), Tokenizer.Decode(current), [.. current], language, window));
            current.Clear();
            opened = null;
        }

        if (current.Any(t => !Tokenizer.IsTimestamp(t)))
        {
            // Text after the last timestamp runs to the end of the window.
            segments.Add(new RecognizedSegment(At(opened ?? 0), offset + length, Tokenizer.Decode(current), [.. current], language, window));
        }

        return segments;
    }

    private sealed record WindowOutcome(List<RecognizedSegment> Segments, SpeechError? Error, bool Cancelled, WindowDecodedEvent? Decoded = null);

    /// <summary>Counts decoder steps across windows and stops before a step once cancellation was asked for.</summary>
    private sealed class StepCounter(IProgress<int>? progress, CancellationToken cancellationToken)
    {
        private int _steps;

        public bool IsCancelled => cancellationToken.IsCancellationRequested;

        public void ThrowIfCancelled() => cancellationToken.ThrowIfCancellationRequested();

        public void BeforeStep()
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress?.Report(++_steps);
        }
    }
}

/// <summary>A detected language.</summary>
/// <param name="Language">Its code (<c>en</c>, <c>fa</c>, …).</param>
/// <param name="Probability">Its probability among the language tokens.</param>
public sealed record DetectedLanguage(string Language, float Probability);
