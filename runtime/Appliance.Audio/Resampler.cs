using System.Numerics.Tensors;

namespace Appliance.Audio;

/// <summary>
/// A streaming band-limited sample-rate converter: a polyphase windowed-sinc (Kaiser) filter for the rational ratio
/// of the two rates, with the cut-off below the lower Nyquist frequency (pass band to 90 % of it, stop band from
/// it, about 80 dB of stop-band rejection). Output sample <c>n</c> is centred on input time <c>n × in / out</c>, so
/// there is no added delay: the filter looks ahead, and the last outputs come out of <see cref="Flush"/>.
/// Feeding the input in chunks of any size gives exactly the output of feeding it in one piece.
/// Holds per-stream state; not thread-safe.
/// </summary>
public sealed class Resampler
{
    /// <summary>The most filter phases (the reduced output-rate factor) accepted; rates with a larger reduced ratio are refused.</summary>
    public const int MaxPhases = 4096;

    private const double StopBandAttenuationDb = 80;
    private const double PassBandFraction = 0.9;
    private const int InputBlock = 8192;

    private readonly int _up;
    private readonly int _down;
    private readonly int _halfTaps;
    private readonly int _taps;
    private readonly float[] _coefficients; // _up phases × _taps, phase-major
    private float[] _buffer;
    private int _buffered;
    private long _bufferStart; // absolute input index of _buffer[0]
    private long _inputCount;
    private long _outputCount;
    private bool _flushed;

    /// <summary>Creates a converter from <paramref name="inputRate"/> to <paramref name="outputRate"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A rate outside [<see cref="PcmFormat.MinSampleRate"/>,
    /// <see cref="PcmFormat.MaxSampleRate"/>], or a pair of rates whose reduced ratio needs more than
    /// <see cref="MaxPhases"/> filter phases.</exception>
    public Resampler(int inputRate, int outputRate)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputRate, PcmFormat.MinSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inputRate, PcmFormat.MaxSampleRate);
        ArgumentOutOfRangeException.ThrowIfLessThan(outputRate, PcmFormat.MinSampleRate);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(outputRate, PcmFormat.MaxSampleRate);

        InputRate = inputRate;
        OutputRate = outputRate;
        var gcd = Gcd(inputRate, outputRate);
        _up = outputRate / gcd;
        _down = inputRate / gcd;
        if (_up > MaxPhases)
        {
            throw new ArgumentOutOfRangeException(nameof(outputRate), outputRate, $"The ratio {outputRate}/{inputRate} needs more than {MaxPhases} filter phases.");
        }

        if (_up == _down)
        {
            _coefficients = [];
            _buffer = [];
            return;
        }

        // Cut-off and transition band relative to the input rate; length from Kaiser's formula.
        var nyquist = Math.Min(inputRate, outputRate) / 2.0;
        var cutoff = (1 + PassBandFraction) / 2 * nyquist / inputRate;
        var transition = (1 - PassBandFraction) * nyquist / inputRate;
        var length = ((StopBandAttenuationDb - 7.95) / (14.36 * transition)) + 1;
        _halfTaps = (int)Math.Ceiling(length / 2);
        _taps = 2 * _halfTaps;
        _coefficients = DesignPhases(_up, _halfTaps, cutoff, 0.1102 * (StopBandAttenuationDb - 8.7));
        _buffer = new float[_taps + InputBlock];
        Reset();
    }

    /// <summary>Input sample rate in Hz.</summary>
    public int InputRate { get; }

    /// <summary>Output sample rate in Hz.</summary>
    public int OutputRate { get; }

    /// <summary>
    /// The most samples one <see cref="Process"/> call with <paramref name="inputLength"/> samples, or a following
    /// <see cref="Flush"/> (with 0), can write.
    /// </summary>
    public int GetMaxOutputLength(int inputLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputLength);
        return (int)(((long)(inputLength + _taps + 1) * _up / _down) + 1);
    }

    /// <summary>Converts the next chunk of a mono stream.</summary>
    /// <param name="input">The next input samples (any length, 0 included).</param>
    /// <param name="output">Receives the output samples that are complete; at least
    /// <see cref="GetMaxOutputLength"/>(<c>input.Length</c>) long.</param>
    /// <returns>Samples written to <paramref name="output"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="output"/> is too short.</exception>
    /// <exception cref="InvalidOperationException">Called after <see cref="Flush"/> without <see cref="Reset"/>.</exception>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_flushed)
        {
            throw new InvalidOperationException("The stream was flushed; call Reset() to start a new one.");
        }

        if (output.Length < GetMaxOutputLength(input.Length))
        {
            throw new ArgumentException("Output is shorter than GetMaxOutputLength(input.Length).", nameof(output));
        }

        if (_up == _down)
        {
            input.CopyTo(output);
            _inputCount += input.Length;
            _outputCount += input.Length;
            return input.Length;
        }

        var written = 0;
        while (!input.IsEmpty)
        {
            var block = input[..Math.Min(input.Length, InputBlock)];
            input = input[block.Length..];
            Append(block);
            written += Emit(_inputCount, output[written..]);
        }

        return written;
    }

    /// <summary>
    /// Ends the stream: writes the outputs that were waiting for look-ahead, as if the input were followed by silence.
    /// In all, a stream of <c>n</c> input samples gives <c>ceil(n × OutputRate / InputRate)</c> output samples.
    /// </summary>
    /// <param name="output">At least <see cref="GetMaxOutputLength"/>(0) long.</param>
    /// <returns>Samples written.</returns>
    /// <exception cref="ArgumentException"><paramref name="output"/> is too short.</exception>
    public int Flush(Span<float> output)
    {
        if (output.Length < GetMaxOutputLength(0))
        {
            throw new ArgumentException("Output is shorter than GetMaxOutputLength(0).", nameof(output));
        }

        if (_flushed || _up == _down)
        {
            _flushed = true;
            return 0;
        }

        _flushed = true;
        var total = ((_inputCount * _up) + _down - 1) / _down;
        EnsureCapacity(_buffered + _halfTaps + 1);
        _buffer.AsSpan(_buffered, _halfTaps + 1).Clear();
        _buffered += _halfTaps + 1;
        return Emit(_inputCount + _halfTaps + 1, output, total);
    }

    /// <summary>Forgets all stream state, ready for a new stream.</summary>
    public void Reset()
    {
        _flushed = false;
        _inputCount = 0;
        _outputCount = 0;
        if (_up == _down)
        {
            return;
        }

        // The stream is preceded by silence: the first output needs _halfTaps - 1 samples before index 0.
        _buffered = _halfTaps - 1;
        _bufferStart = -_buffered;
        _buffer.AsSpan(0, _buffered).Clear();
    }

    /// <summary>Converts a whole mono signal in one call (a new stream, flushed at the end).</summary>
    /// <exception cref="ArgumentOutOfRangeException">As for the constructor.</exception>
    public static float[] ResampleAll(ReadOnlySpan<float> input, int inputRate, int outputRate)
    {
        if (inputRate == outputRate)
        {
            return input.ToArray();
        }

        var resampler = new Resampler(inputRate, outputRate);
        var output = new float[resampler.GetMaxOutputLength(input.Length) + resampler.GetMaxOutputLength(0)];
        var written = resampler.Process(input, output);
        written += resampler.Flush(output.AsSpan(written));
        return output.AsSpan(0, written).ToArray();
    }

    private void Append(ReadOnlySpan<float> block)
    {
        EnsureCapacity(_buffered + block.Length);
        block.CopyTo(_buffer.AsSpan(_buffered));
        _buffered += block.Length;
        _inputCount += block.Length;
    }

    private void EnsureCapacity(int needed)
    {
        if (needed > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(needed, _buffer.Length * 2));
        }
    }

    /// <summary>Writes every output whose filter span ends before <paramref name="available"/>, up to <paramref name="limit"/>.</summary>
    private int Emit(long available, Span<float> output, long limit = long.MaxValue)
    {
        var written = 0;
        var coefficients = _coefficients.AsSpan();
        while (_outputCount < limit)
        {
            var position = _outputCount * _down;
            var centre = position / _up;
            if (centre + _halfTaps >= available)
            {
                break;
            }

            var phase = (int)(position - (centre * _up));
            var first = (int)(centre - _halfTaps + 1 - _bufferStart);
            output[written++] = TensorPrimitives.Dot(coefficients.Slice(phase * _taps, _taps), _buffer.AsSpan(first, _taps));
            _outputCount++;
        }

        // Drop the input no later output can reach.
        var keepFrom = (_outputCount * _down / _up) - _halfTaps + 1;
        var drop = (int)Math.Clamp(keepFrom - _bufferStart, 0, _buffered);
        if (drop > 0)
        {
            _buffer.AsSpan(drop, _buffered - drop).CopyTo(_buffer);
            _buffered -= drop;
            _bufferStart += drop;
        }

        return written;
    }

    private static float[] DesignPhases(int phases, int halfTaps, double cutoff, double beta)
    {
        var taps = 2 * halfTaps;
        var coefficients = new float[phases * taps];
        var kernel = new double[taps];
        var i0Beta = BesselI0(beta);
        for (var p = 0; p < phases; p++)
        {
            // Tap k weighs input (centre - halfTaps + 1 + k); its distance from the output instant, in input samples:
            var sum = 0.0;
            for (var k = 0; k < taps; k++)
            {
                var t = ((double)p / phases) + halfTaps - 1 - k;
                var x = 2 * cutoff * t;
                var sinc = Math.Abs(x) < 1e-12 ? 1.0 : Math.Sin(Math.PI * x) / (Math.PI * x);
                var r = t / halfTaps;
                var window = Math.Abs(r) >= 1 ? 0.0 : BesselI0(beta * Math.Sqrt(1 - (r * r))) / i0Beta;
                kernel[k] = 2 * cutoff * sinc * window;
                sum += kernel[k];
            }

            // Unity gain at DC for every phase, so a constant input stays exactly constant.
            for (var k = 0; k < taps; k++)
            {
                coefficients[(p * taps) + k] = (float)(kernel[k] / sum);
            }
        }

        return coefficients;
    }

    private static double BesselI0(double x)
    {
        var sum = 1.0;
        var term = 1.0;
        var half = x / 2;
        for (var k = 1; k < 64; k++)
        {
            term *= half / k;
            var squared = term * term;
            sum += squared;
            if (squared < sum * 1e-17)
            {
                break;
            }
        }

        return sum;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
