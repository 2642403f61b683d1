namespace Appliance.Audio.Tests.Support;

/// <summary>Synthetic test signals and the measurements the tests make on them.</summary>
internal static class Signals
{
    public static float[] Sine(double frequency, int sampleRate, double seconds, double amplitude = 0.5, double phase = 0)
    {
        var samples = new float[(int)(sampleRate * seconds)];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (float)(amplitude * Math.Sin((2 * Math.PI * frequency * i / sampleRate) + phase));
        }

        return samples;
    }

    /// <summary>A speech-like test signal: a 100 Hz–6 kHz exponential chirp with harmonics, amplitude modulation and a little noise.</summary>
    public static float[] ChirpWithNoise(int sampleRate, double seconds, int seed = 7)
    {
        var random = new Random(seed);
        var samples = new float[(int)(sampleRate * seconds)];
        var phase = 0.0;
        for (var i = 0; i < samples.Length; i++)
        {
            var t = (double)i / sampleRate;
            var frequency = 100 * Math.Pow(60, t / seconds);
            phase += 2 * Math.PI * frequency / sampleRate;
            var envelope = 0.55 + (0.45 * Math.Sin(2 * Math.PI * 3 * t));
            var tone = (0.5 * Math.Sin(phase)) + (0.2 * Math.Sin(2 * phase)) + (0.1 * Math.Sin(3 * phase));
            samples[i] = (float)((0.6 * envelope * tone) + (0.01 * ((random.NextDouble() * 2) - 1)));
        }

        return samples;
    }

    /// <summary>
    /// <paramref name="channels"/> interleaved channels of <see cref="ChirpWithNoise"/>, each told apart so that a dropped
    /// or swapped channel shows: its own noise seed, a gain of 0.9 falling by 0.1 per channel, and every odd channel
    /// time-reversed (a falling chirp).
    /// </summary>
    public static float[] InterleavedChirps(int sampleRate, int channels, double seconds)
    {
        var length = (int)(sampleRate * seconds);
        var interleaved = new float[length * channels];
        for (var c = 0; c < channels; c++)
        {
            var channel = ChirpWithNoise(sampleRate, seconds, seed: 7 + c);
            if (c % 2 == 1)
            {
                Array.Reverse(channel);
            }

            var gain = 0.9f - (0.1f * c);
            for (var i = 0; i < length; i++)
            {
                interleaved[(i * channels) + c] = gain * channel[i];
            }
        }

        return interleaved;
    }

    /// <summary>Amplitude of the component at <paramref name="frequency"/> (least-squares projection on sin and cos).</summary>
    public static double ToneAmplitude(ReadOnlySpan<float> samples, double frequency, int sampleRate)
    {
        double s = 0;
        double c = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var angle = 2 * Math.PI * frequency * i / sampleRate;
            s += samples[i] * Math.Sin(angle);
            c += samples[i] * Math.Cos(angle);
        }

        return 2 * Math.Sqrt((s * s) + (c * c)) / samples.Length;
    }

    public static double Rms(ReadOnlySpan<float> samples)
    {
        double sum = 0;
        foreach (var value in samples)
        {
            sum += (double)value * value;
        }

        return Math.Sqrt(sum / Math.Max(1, samples.Length));
    }

    /// <summary>RMS of what is left after removing the best-fitting sinusoid at <paramref name="frequency"/>.</summary>
    public static double ResidualAfterTone(ReadOnlySpan<float> samples, double frequency, int sampleRate)
    {
        double ss = 0, sc = 0, cc = 0, xs = 0, xc = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var angle = 2 * Math.PI * frequency * i / sampleRate;
            var (sin, cos) = Math.SinCos(angle);
            ss += sin * sin;
            sc += sin * cos;
            cc += cos * cos;
            xs += samples[i] * sin;
            xc += samples[i] * cos;
        }

        var det = (ss * cc) - (sc * sc);
        var a = ((xs * cc) - (xc * sc)) / det;
        var b = ((xc * ss) - (xs * sc)) / det;
        double sum = 0;
        for (var i = 0; i < samples.Length; i++)
        {
            var angle = 2 * Math.PI * frequency * i / sampleRate;
            var residual = samples[i] - ((a * Math.Sin(angle)) + (b * Math.Cos(angle)));
            sum += residual * residual;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    /// <summary>Normalised cross-correlation at the best lag in [-maxLag, maxLag] of b relative to a.</summary>
    public static (double Correlation, int Lag) BestCorrelation(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int maxLag)
    {
        var best = double.NegativeInfinity;
        var bestLag = 0;
        for (var lag = -maxLag; lag <= maxLag; lag++)
        {
            var correlation = CorrelationAt(a, b, lag);
            if (correlation > best)
            {
                best = correlation;
                bestLag = lag;
            }
        }

        return (best, bestLag);
    }

    /// <summary>Pearson correlation of a[i] with b[i + lag] over the overlap.</summary>
    public static double CorrelationAt(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int lag)
    {
        var start = Math.Max(0, -lag);
        var end = Math.Min(a.Length, b.Length - lag);
        double ab = 0, aa = 0, bb = 0;
        for (var i = start; i < end; i++)
        {
            double x = a[i];
            double y = b[i + lag];
            ab += x * y;
            aa += x * x;
            bb += y * y;
        }

        return aa == 0 || bb == 0 ? 0 : ab / Math.Sqrt(aa * bb);
    }

    /// <summary>Signal-to-noise ratio of <paramref name="actual"/> against <paramref name="expected"/>, in dB.</summary>
    public static double SnrDb(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double signal = 0, noise = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            signal += (double)expected[i] * expected[i];
            var d = (double)expected[i] - actual[i];
            noise += d * d;
        }

        return 10 * Math.Log10(signal / Math.Max(noise, 1e-30));
    }
}
