namespace Appliance.Audio.Tests.Support;

/// <summary>
/// How a decoder's output lines up with the reference over one stretch of the reference: <paramref name="Lag"/> (samples
/// per channel; the output's sample i + lag matches the reference's sample i) and the SNR there in dB over all channels
/// and the whole overlap (<see cref="double.NegativeInfinity"/> when there is no overlap).
/// </summary>
internal readonly record struct SegmentMatch(int Start, int End, int Lag, double SnrDb);

/// <summary>Finds the best alignment of two interleaved signals within a lag window and measures the SNR there.</summary>
internal static class Alignment
{
    /// <summary>Length of the excerpt that chooses the lag, in samples per channel (the SNR is then measured over the whole stretch).</summary>
    private const int SearchLength = 2048;

    /// <summary>
    /// Aligns <paramref name="actual"/> to reference samples [<paramref name="start"/>, <paramref name="end"/>) (samples per
    /// channel) at the lag within ±<paramref name="maxLag"/> that gives the highest SNR over an excerpt from the middle
    /// of the stretch, then measures the SNR at that lag over the whole stretch.
    /// </summary>
    public static SegmentMatch Match(float[] reference, float[] actual, int channels, int start, int end, int maxLag)
    {
        var actualLength = actual.Length / channels;
        var middle = (start + end) / 2;
        var searchStart = Math.Max(start, middle - (SearchLength / 2));
        var searchEnd = Math.Min(end, searchStart + SearchLength);
        var bestLag = 0;
        var bestSnr = double.NegativeInfinity;
        for (var lag = -maxLag; lag <= maxLag; lag++)
        {
            var snr = SnrDb(reference, actual, channels, actualLength, searchStart, searchEnd, lag);
            if (snr > bestSnr)
            {
                bestSnr = snr;
                bestLag = lag;
            }
        }

        return new SegmentMatch(start, end, bestLag, SnrDb(reference, actual, channels, actualLength, start, end, bestLag));
    }

    /// <summary>SNR in dB of actual[i + lag] against reference[i] for the i in [start, end) where both exist.</summary>
    private static double SnrDb(float[] reference, float[] actual, int channels, int actualLength, int start, int end, int lag)
    {
        var first = Math.Max(start, -lag);
        var last = Math.Min(end, actualLength - lag);
        if (last <= first)
        {
            return double.NegativeInfinity;
        }

        return Signals.SnrDb(
            reference.AsSpan(first * channels, (last - first) * channels),
            actual.AsSpan((first + lag) * channels, (last - first) * channels));
    }
}
