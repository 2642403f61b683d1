using System.Collections.Concurrent;
using System.Numerics.Tensors;

namespace Appliance.Audio;

/// <summary>
/// Whisper's log-mel spectrogram, computed as Whisper and the Hugging Face feature extractors do: 16 kHz mono audio
/// cut or zero-padded to a 30 s window, reflect-padded by n_fft / 2 at both ends, 25 ms periodic Hann frames
/// (n_fft 400) every 10 ms (hop 160), power spectrum, Slaney mel filter bank (80 or 128 bins), log10 of the value
/// clamped to 1e-10, floored at (maximum − 8), then (x + 4) / 4. The result is [mel bins × 3000 frames], row-major.
/// Longer audio is cut into consecutive 30 s windows, each normalised on its own.
/// Instances are thread-safe; each call takes a spare set of scratch arrays, kept for the next call.
/// </summary>
public sealed class WhisperLogMel
{
    /// <summary>FFT length, 400 samples (25 ms).</summary>
    public const int FftLength = 400;

    /// <summary>Hop between frames, 160 samples (10 ms).</summary>
    public const int HopLength = 160;

    /// <summary>Samples in one window, 30 s.</summary>
    public const int WindowSamples = 30 * SpeechAudio.SampleRate;

    /// <summary>Frames in one window, 3000.</summary>
    public const int WindowFrames = WindowSamples / HopLength;

    private const float MelFloor = 1e-10f;
    private const int FramesPerTask = 100;

    private readonly MelFilterBank _filters;
    private readonly double[] _window;
    private readonly int _maxDegreeOfParallelism;

    // Scratch arrays of a window (padded signal, mel power) kept between calls, as many as calls ever ran at once; the
    // shared ArrayPool would keep them in the slots of whichever pool threads returned them, and allocate anew elsewhere.
    private readonly ConcurrentBag<(float[] Padded, float[] Mel)> _scratch = [];

    /// <summary>Creates an extractor.</summary>
    /// <param name="melBins">Mel bins: 80 (Whisper tiny to large-v2) or 128 (large-v3).</param>
    /// <param name="maxDegreeOfParallelism">Threads one call may use; 1 computes on the calling thread only.</param>
    /// <exception cref="ArgumentOutOfRangeException">A mel bin count other than 80 or 128, or a parallelism below 1.</exception>
    public WhisperLogMel(int melBins = 80, int maxDegreeOfParallelism = 1)
    {
        if (melBins is not (80 or 128))
        {
            throw new ArgumentOutOfRangeException(nameof(melBins), melBins, "Whisper uses 80 or 128 mel bins.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(maxDegreeOfParallelism, 1);
        MelBins = melBins;
        _maxDegreeOfParallelism = maxDegreeOfParallelism;
        _filters = new MelFilterBank(melBins, FftLength, SpeechAudio.SampleRate);
        _window = new double[FftLength];
        for (var n = 0; n < FftLength; n++)
        {
            _window[n] = 0.5 - (0.5 * Math.Cos(2 * Math.PI * n / FftLength)); // periodic Hann
        }
    }

    /// <summary>Mel bins per frame.</summary>
    public int MelBins { get; }

    /// <summary>
    /// A copy of the mel filter bank this extractor applies: [<see cref="MelBins"/> × 201 frequency bins], row-major,
    /// the layout whisper.cpp's model files carry it in.
    /// </summary>
    public float[] FilterWeights() => (float[])_filters.Weights.Clone();

    /// <summary>Floats in one window's features, <see cref="MelBins"/> × <see cref="WindowFrames"/>.</summary>
    public int WindowFeatureLength => MelBins * WindowFrames;

    /// <summary>Number of 30 s windows that cover <paramref name="sampleCount"/> samples (at least 1).</summary>
    public static int GetWindowCount(int sampleCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sampleCount);
        return Math.Max(1, (sampleCount + WindowSamples - 1) / WindowSamples);
    }

    /// <summary>Features of one 30 s window: the first <see cref="WindowSamples"/> samples, zero-padded if shorter.</summary>
    /// <param name="samples">16 kHz mono samples.</param>
    /// <returns>A new array of <see cref="WindowFeatureLength"/> floats, [mel × frame].</returns>
    public float[] ComputeWindow(ReadOnlySpan<float> samples)
    {
        var features = new float[WindowFeatureLength];
        ComputeWindow(samples, features);
        return features;
    }

    /// <summary>Features of one 30 s window into <paramref name="destination"/> ([mel × frame]).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="WindowFeatureLength"/>.</exception>
    public void ComputeWindow(ReadOnlySpan<float> samples, Span<float> destination)
    {
        if (destination.Length < WindowFeatureLength)
        {
            throw new ArgumentException("Destination is shorter than WindowFeatureLength.", nameof(destination));
        }

        const int pad = FftLength / 2;
        var (padded, mel) = _scratch.TryTake(out var spare) ? spare : (new float[WindowSamples + FftLength], new float[WindowFeatureLength]);
        try
        {
            ReflectPad(samples[..Math.Min(samples.Length, WindowSamples)], padded.AsSpan(0, WindowSamples + (2 * pad)));
            ComputeMel(padded, mel);

            var features = mel.AsSpan(0, WindowFeatureLength);
            TensorPrimitives.Max(features, MelFloor, features);
            TensorPrimitives.Log10(features, features);
            var floor = TensorPrimitives.Max(features) - 8f;
            TensorPrimitives.Max(features, floor, features);
            TensorPrimitives.Add(features, 4f, features);
            TensorPrimitives.Multiply(features, 0.25f, destination[..WindowFeatureLength]);
        }
        finally
        {
            _scratch.Add((padded, mel));
        }
    }

    /// <summary>Features of every 30 s window of <paramref name="samples"/> (the last one zero-padded).</summary>
    /// <returns><see cref="GetWindowCount"/> arrays of <see cref="WindowFeatureLength"/> floats.</returns>
    public float[][] ComputeAllWindows(ReadOnlySpan<float> samples)
    {
        var windows = new float[GetWindowCount(samples.Length)][];
        for (var w = 0; w < windows.Length; w++)
        {
            var start = w * WindowSamples;
            windows[w] = ComputeWindow(samples[start..Math.Min(samples.Length, start + WindowSamples)]);
        }

        return windows;
    }

    /// <summary>The signal zero-padded to 30 s, then reflect-padded by n_fft / 2 on both sides (numpy "reflect").</summary>
    private static void ReflectPad(ReadOnlySpan<float> signal, Span<float> padded)
    {
        const int pad = FftLength / 2;
        var body = padded.Slice(pad, WindowSamples);
        signal.CopyTo(body);
        body[signal.Length..].Clear();
        for (var i = 1; i <= pad; i++)
        {
            padded[pad - i] = body[i];
            padded[pad + WindowSamples - 1 + i] = body[WindowSamples - 1 - i];
        }
    }

    /// <summary>Mel energies [mel × frame] of the padded window.</summary>
    private void ComputeMel(float[] padded, float[] mel)
    {
        var tasks = (WindowFrames + FramesPerTask - 1) / FramesPerTask;
        if (_maxDegreeOfParallelism == 1)
        {
            var worker = new Worker(this);
            for (var t = 0; t < tasks; t++)
            {
                worker.Run(padded, mel, t * FramesPerTask);
            }

            return;
        }

        Parallel.For(
            0,
            tasks,
            new ParallelOptions { MaxDegreeOfParallelism = _maxDegreeOfParallelism },
            () => new Worker(this),
            (t, _, worker) =>
            {
                worker.Run(padded, mel, t * FramesPerTask);
                return worker;
            },
            _ => { });
    }

    /// <summary>Per-thread scratch: windowed frames, their spectra and the transform's buffers.</summary>
    private sealed class Worker(WhisperLogMel owner)
    {
        private readonly PowerSpectrum _spectrum = new(FftLength);
        private readonly double[] _frameA = new double[FftLength];
        private readonly double[] _frameB = new double[FftLength];
        private readonly float[] _power = new float[FramesPerTask * ((FftLength / 2) + 1)];

        /// <summary>Frames [first, first + FramesPerTask) of the window; FramesPerTask is even, so frames go in pairs.</summary>
        public void Run(float[] padded, float[] mel, int first)
        {
            var bins = _spectrum.Bins;
            var count = Math.Min(FramesPerTask, WindowFrames - first);
            for (var i = 0; i < count; i += 2)
            {
                Window(padded, first + i, _frameA);
                Window(padded, first + i + 1, _frameB);
                _spectrum.ComputePair(_frameA, _frameB, _power.AsSpan(i * bins, bins), _power.AsSpan((i + 1) * bins, bins));
            }

            var filters = owner._filters;
            for (var m = 0; m < filters.MelBins; m++)
            {
                var weights = filters.NonZeroWeights(m);
                var offset = filters.First[m];
                var row = mel.AsSpan((m * WindowFrames) + first, count);
                for (var i = 0; i < count; i++)
                {
                    row[i] = TensorPrimitives.Dot(weights, _power.AsSpan((i * bins) + offset, weights.Length));
                }
            }
        }

        private void Window(float[] padded, int frame, double[] destination)
        {
            var start = frame * HopLength;
            var window = owner._window;
            for (var n = 0; n < FftLength; n++)
            {
                destination[n] = padded[start + n] * window[n];
            }
        }
    }
}
