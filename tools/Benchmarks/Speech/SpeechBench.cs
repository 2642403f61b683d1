using Appliance.Profiles;
using Appliance.Inference;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Appliance.Audio;
using Appliance.ModelForge.Whisper;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Speech.WakeWord;
using Appliance.Speech.Whisper;
using Microsoft.ML.OnnxRuntime;
using Whisper.net;

namespace Appliance.Benchmarks.Speech;

/// <summary>What the speech benchmark runs on.</summary>
/// <param name="AudioPath">The recording (the 120 s TED talk in ../shared/audio).</param>
/// <param name="CacheDirectory">Where the forged Whisper model is kept between runs.</param>
/// <param name="VadModel">Silero VAD graph.</param>
/// <param name="WakeWordFolder">openWakeWord graphs (mel, embedding, one classifier); null skips that stage.</param>
/// <param name="Threads">Intra-op threads of every ONNX Runtime session and of the features.</param>
/// <param name="Seed">Seed of the forged Whisper weights.</param>
/// <param name="DecoderTokensPerWindow">Tokens decoded per 30 s window. A random-weight model never says it is done, so the
/// count is fixed at what real speech needs: about 2.5 words per second, 1.3 tokens per word, 30 s → 100.</param>
internal sealed record SpeechBenchSettings(string AudioPath, string CacheDirectory, string VadModel, string? WakeWordFolder, int Threads, long Seed = 42, int DecoderTokensPerWindow = 100);

/// <summary>One stage's time and its real-time factor (time ÷ audio duration; below 1 is faster than real time).</summary>
internal sealed record SpeechStage(string Name, TimeSpan Time, double RealTimeFactor, string Note);

internal sealed record SpeechBenchResult(TimeSpan AudioDuration, int Windows, int SpeechSegments, IReadOnlyList<SpeechStage> Stages, WhisperPreset Model);

/// <summary>
/// Real-time factor of each speech stage on one recording: decode, resample (from 48 kHz, as earbuds send), Whisper
/// features, Silero VAD, the openWakeWord pipeline, the Whisper encoder, the decoder, and the whole pipeline end to end
/// (decode, VAD, VAD-aligned windows through <see cref="WhisperTranscriber"/>), on a shape-faithful forged whisper-base.
/// </summary>
internal static class SpeechBench
{
    public static async Task<SpeechBenchResult> RunAsync(SpeechBenchSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var whisperFolder = ForgedWhisperBase(settings.CacheDirectory, settings.Seed, progress);
        var session = InferenceSettings.Cpu(settings.Threads);
        var stages = new List<SpeechStage>();

        progress("decode");
        var (decodeTime, read) = Time(() => AudioFile.Read(settings.AudioPath));
        var audio = AudioFile.ToMono16k(read.GetAudioOrThrow()).Samples;
        var duration = TimeSpan.FromSeconds(audio.Length / (double)SpeechAudio.SampleRate);
        stages.Add(Stage("decode", decodeTime, duration, $"{read.Audio!.Container}, {read.Audio.SampleRate} Hz"));

        progress("resample");
        var at48k = Resampler.ResampleAll(audio, SpeechAudio.SampleRate, 48_000);
        var (resampleTime, _) = Time(() => Resampler.ResampleAll(at48k, 48_000, SpeechAudio.SampleRate));
        stages.Add(Stage("resample 48 → 16 kHz", resampleTime, duration, "polyphase windowed sinc"));

        progress("features");
        var features = new WhisperLogMel(80, settings.Threads);
        var (featureTime, _) = Time(() => features.ComputeAllWindows(audio));
        stages.Add(Stage("features (80-bin log-mel)", featureTime, duration, $"every 30 s window, {settings.Threads} threads"));

        progress("VAD");
        var silero = SileroVoiceActivityDetector.Open(settings.VadModel, null, session);
        using var vad = silero.Value ?? throw new InvalidOperationException($"VAD model: {silero.Error}");
        var (vadTime, segments) = Time(() => VoiceActivity.Segments(vad, audio));
        stages.Add(Stage("VAD (Silero)", vadTime, duration, $"{segments.Count} speech segments"));

        if (settings.WakeWordFolder is { } wakeFolder)
        {
            progress("wake word");
            var opened = WakeWordDetector.Open(wakeFolder, null, session);
            using var wake = opened.Value ?? throw new InvalidOperationException($"wake-word models: {opened.Error}");
            var (wakeTime, detections) = Time(() => wake.Process(audio));
            stages.Add(Stage($"wake word ({wake.WakeWord})", wakeTime, duration, $"80 ms steps, {detections.Count} detections"));
        }

        var windows = LongFormWindows(audio, segments);
        progress($"Whisper encoder ({windows.Count} windows)");
        var encoderTime = EncoderTime(whisperFolder, features, audio, windows, settings.Threads);
        stages.Add(Stage("Whisper encoder", encoderTime, duration, $"{windows.Count} windows of 30 s"));

        progress("Whisper transcription");
        var opened2 = WhisperTranscriber.Open(whisperFolder, session);
        using var transcriber = opened2.Value ?? throw new InvalidOperationException($"Whisper model: {opened2.Error}");
        var steps = 0;
        // The decoder itself is timed: forged weights would trip the hallucination guards on every window and retry it.
        var options = new TranscriptionOptions
        {
            Settings = TranscriptionSettings.Unguarded,
            Language = "en",
            MaxNewTokens = settings.DecoderTokensPerWindow,
            Speech = segments,
            DecoderSteps = new StepCount(n => steps = n),
        };
        var transcribe = await TranscribeTimedAsync(transcriber, audio, options, cancellationToken).ConfigureAwait(false);
        var windowFeatures = featureTime * windows.Count / Math.Max(1, WhisperLogMel.GetWindowCount(audio.Length));
        var decoderTime = transcribe - encoderTime - windowFeatures;
        stages.Add(Stage("Whisper decoder", decoderTime, duration, $"{steps} greedy steps ({settings.DecoderTokensPerWindow} per window), KV cache"));
        stages.Add(Stage("end to end", decodeTime + vadTime + transcribe, duration, "decode + VAD + VAD-aligned windows through the transcriber"));

        var variants = new List<(string Name, TimeSpan Decoder, int Steps)>();
        var int8Encoder = TimeSpan.Zero;
        foreach (var (name, quantization, split) in new[] { ("q4, merged", WhisperQuantization.DecoderQ4, false), ("float32, split", WhisperQuantization.None, true), ("q4, split", WhisperQuantization.DecoderQ4, true), ("int8, split", WhisperQuantization.DynamicInt8, true) })
        {
            progress($"Whisper transcription, decoder {name}");
            var folder = ForgedWhisperBase(settings.CacheDirectory, settings.Seed, progress, quantization: quantization, splitDecoder: split);
            var variantEncoder = encoderTime;
            if (quantization == WhisperQuantization.DynamicInt8)
            {
                // The int8 export quantizes the encoder too: its own encoder time comes off its transcription.
                int8Encoder = variantEncoder = EncoderTime(folder, features, audio, windows, settings.Threads);
            }

            var openedVariant = WhisperTranscriber.Open(folder, session);
            using var variant = openedVariant.Value ?? throw new InvalidOperationException($"Whisper model (decoder {name}): {openedVariant.Error}");
            var variantSteps = 0;
            var time = await TranscribeTimedAsync(variant, audio, options with { DecoderSteps = new StepCount(n => variantSteps = n) }, cancellationToken).ConfigureAwait(false);
            variants.Add((name, time - variantEncoder - windowFeatures, variantSteps));
        }

        progress("whisper.cpp on the twin (Whisper.net)");
        var peer = await WhisperCppTimesAsync(whisperFolder, audio, windows, settings).ConfigureAwait(false);
        var ourFront = encoderTime + windowFeatures;
        stages.Add(Stage("whisper.cpp features + encoder", peer.Front, duration, string.Create(CultureInfo.InvariantCulture, $"the same windows, float16 twin; ours (features + encoder) {ourFront.TotalMilliseconds:F0} ms: {peer.Front / ourFront:F2}× ours")));
        var ourStep = decoderTime / Math.Max(1, steps);
        var peerStep = peer.Decoder / Math.Max(1, peer.Steps);
        stages.Add(Stage("whisper.cpp decoder", peer.Decoder, duration, string.Create(CultureInfo.InvariantCulture, $"{peer.Steps} greedy steps (up to {settings.DecoderTokensPerWindow} a window; a timestamp token ends one earlier): {peerStep.TotalMilliseconds:F1} ms a step, ours {ourStep.TotalMilliseconds:F1} ms: {peerStep / ourStep:F2}× ours")));
        var int8Front = int8Encoder + windowFeatures;
        stages.Add(Stage("Whisper encoder, int8", int8Encoder, duration, string.Create(CultureInfo.InvariantCulture, $"the same windows; features + encoder {int8Front / ourFront:F2}× the float32 features + encoder, {int8Front / peer.Front:F2}× whisper.cpp's")));
        foreach (var (name, time, variantSteps) in variants)
        {
            var step = time / Math.Max(1, variantSteps);
            stages.Add(Stage($"Whisper decoder, {name}", time, duration, string.Create(CultureInfo.InvariantCulture, $"{variantSteps} greedy steps: {step.TotalMilliseconds:F1} ms a step, {step / ourStep:F2}× the float32 merged decoder's, {step / peerStep:F2}× whisper.cpp's")));
        }
        return new SpeechBenchResult(duration, windows.Count, segments.Count, stages, WhisperPreset.Base);
    }

    /// <summary>The forged whisper-base of <paramref name="seed"/> in the cache folder, forged there first when missing.</summary>
    /// <returns>The model folder.</returns>
    public static string ForgedWhisperBase(string cacheDirectory, long seed, Action<string> progress, float endOfTextBias = 0, WhisperQuantization quantization = WhisperQuantization.None, bool splitDecoder = false)
    {
        var bias = endOfTextBias == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"-eot{endOfTextBias}");
        var variant = quantization switch
        {
            WhisperQuantization.DecoderQ4 => "-decoder-q4",
            WhisperQuantization.DynamicInt8 => "-int8",
            _ => "",
        } + (splitDecoder ? "-split" : "");
        var whisperFolder = Path.Combine(cacheDirectory, string.Create(CultureInfo.InvariantCulture, $"{WhisperPreset.Base.Name}-seed{seed}{bias}{variant}"));
        if (!File.Exists(Path.Combine(whisperFolder, WhisperForge.OnnxFolder, splitDecoder ? WhisperForge.WithPastDecoderFileName : WhisperForge.DecoderFileName)))
        {
            progress($"forging whisper-base into {whisperFolder}");
            WhisperForge.Write(WhisperPreset.Base, seed, whisperFolder, null, endOfTextBias, quantization: quantization, splitDecoder: splitDecoder);
        }

        return whisperFolder;
    }

    public static string Table(SpeechBenchResult result)
    {
        var text = new StringBuilder();
        text.AppendLine("| stage | time | real-time factor | x real time | notes |");
        text.AppendLine("| --- | ---: | ---: | ---: | --- |");
        foreach (var stage in result.Stages)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {stage.Name} | {stage.Time.TotalMilliseconds:F0} ms | {stage.RealTimeFactor:F4} | {1 / stage.RealTimeFactor:F0}× | {stage.Note} |");
        }

        return text.ToString();
    }

    private static SpeechStage Stage(string name, TimeSpan time, TimeSpan audio, string note) =>
        new(name, time, time.TotalSeconds / audio.TotalSeconds, note);

    private static (TimeSpan Time, T Value) Time<T>(Func<T> work)
    {
        work(); // warm-up: JIT and first-touch allocations are not part of a steady-state figure
        var watch = Stopwatch.StartNew();
        var value = work();
        return (watch.Elapsed, value);
    }

    /// <summary>The transcriber's windows, for timing the encoder on the same inputs.</summary>
    private static List<(long Start, long End)> LongFormWindows(float[] audio, IReadOnlyList<SpeechSegment> speech) =>
        LongFormPlanner.Plan(audio, speech, WhisperLogMel.WindowSamples);

    private static TimeSpan EncoderTime(string folder, WhisperLogMel features, float[] audio, List<(long Start, long End)> windows, int threads)
    {
        using var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
        using var encoder = new InferenceSession(Path.Combine(folder, WhisperForge.OnnxFolder, WhisperForge.EncoderFileName), options);
        var input = encoder.InputMetadata.Keys.Single();
        var inputs = windows.Select(w => features.ComputeWindow(audio.AsSpan((int)w.Start, (int)(w.End - w.Start)))).ToList();
        Run(inputs[0]); // warm-up
        var watch = Stopwatch.StartNew();
        foreach (var window in inputs)
        {
            Run(window);
        }

        return watch.Elapsed;

        void Run(float[] window)
        {
            using var tensor = OrtValue.CreateTensorValueFromMemory(window, [1, features.MelBins, WhisperLogMel.WindowFrames]);
            using var run = new RunOptions();
            using var outputs = encoder.Run(run, [input], [tensor], encoder.OutputNames);
        }
    }

    /// <summary>The time of one transcription; a failed one throws <see cref="InvalidOperationException"/>.</summary>
    private static async Task<TimeSpan> TranscribeTimedAsync(WhisperTranscriber transcriber, float[] audio, TranscriptionOptions options, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var result = await transcriber.TranscribeAsync(audio, options, cancellationToken).ConfigureAwait(false);
        watch.Stop();
        return result.Error is { } error ? throw new InvalidOperationException($"transcription failed: {error}") : watch.Elapsed;
    }

    /// <summary>
    /// whisper.cpp (Whisper.net) on the forged model's twin, one window at a time, greedy at temperature 0 with no
    /// fallback: once stopping after the first token (its features and encoder, and one step), once after up to the
    /// decoder budget. The decoder's time is the difference, over the steps taken beyond the first.
    /// </summary>
    private static async Task<(TimeSpan Front, TimeSpan Decoder, int Steps)> WhisperCppTimesAsync(string folder, float[] audio, List<(long Start, long End)> windows, SpeechBenchSettings settings)
    {
        var twin = Path.Combine(folder, WhisperGgml.FileName);
        if (!File.Exists(twin))
        {
            WhisperGgml.Write(folder, twin);
        }

        using var factory = WhisperFactory.FromPath(twin);
        await using var first = Processor(factory, 1, settings.Threads);
        await using var full = Processor(factory, settings.DecoderTokensPerWindow, settings.Threads);
        var inputs = windows.Select(w => audio.AsMemory((int)w.Start, (int)(w.End - w.Start))).ToList();
        await RunAsync(first, inputs[0]).ConfigureAwait(false); // warm-up
        var front = TimeSpan.Zero;
        var whole = TimeSpan.Zero;
        var steps = 0;
        foreach (var window in inputs)
        {
            var watch = Stopwatch.StartNew();
            await RunAsync(first, window).ConfigureAwait(false);
            front += watch.Elapsed;
            watch.Restart();
            steps += Math.Max(0, await RunAsync(full, window).ConfigureAwait(false) - 1);
            whole += watch.Elapsed;
        }

        return (front, whole - front, steps);

        static WhisperProcessor Processor(WhisperFactory factory, int tokens, int threads) =>
            factory.CreateBuilder().WithLanguage("en").WithThreads(threads).WithTemperature(0).WithTemperatureInc(0)
                .WithMaxTokensPerSegment(tokens).WithSingleSegment().WithoutSuppressBlank().WithProbabilities().Build();

        static async Task<int> RunAsync(WhisperProcessor processor, ReadOnlyMemory<float> window)
        {
            var tokens = 0;
            await foreach (var segment in processor.ProcessAsync(window).ConfigureAwait(false))
            {
                tokens += segment.Tokens?.Length ?? 0;
            }

            return tokens;
        }
    }

    private sealed class StepCount(Action<int> report) : IProgress<int>
    {
        public void Report(int value) => report(value);
    }
}
