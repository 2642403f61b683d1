namespace Appliance.Audio;

/// <summary>
/// The mel filter bank Whisper uses (librosa's <c>mel(sr=16000, n_fft=400, n_mels, htk=False, norm="slaney")</c>):
/// triangles on the Slaney mel scale (linear below 1 kHz, logarithmic above) from 0 Hz to the Nyquist frequency,
/// each scaled by 2 / (its band width in Hz). Computed in double precision, stored as float.
/// </summary>
internal sealed class MelFilterBank
{
    private const double MinLogHertz = 1000.0;
    private const double MinLogMel = 15.0;
    private static readonly double LogStep = Math.Log(6.4) / 27.0;

    public MelFilterBank(int melBins, int fftLength, int sampleRate)
    {
        MelBins = melBins;
        FrequencyBins = (fftLength / 2) + 1;
        Weights = new float[melBins * FrequencyBins];
        First = new int[melBins];
        Count = new int[melBins];

        var nyquist = sampleRate / 2.0;
        var melMax = HertzToMel(nyquist);
        var edges = new double[melBins + 2];
        for (var i = 0; i < edges.Length; i++)
        {
            edges[i] = MelToHertz(melMax * i / (melBins + 1));
        }

        for (var m = 0; m < melBins; m++)
        {
            var (lower, centre, upper) = (edges[m], edges[m + 1], edges[m + 2]);
            var norm = 2.0 / (upper - lower);
            var first = -1;
            var last = -1;
            for (var k = 0; k < FrequencyBins; k++)
            {
                var frequency = nyquist * k / (FrequencyBins - 1);
                var rising = (frequency - lower) / (centre - lower);
                var falling = (upper - frequency) / (upper - centre);
                var weight = Math.Max(0.0, Math.Min(rising, falling)) * norm;
                Weights[(m * FrequencyBins) + k] = (float)weight;
                if (weight > 0)
                {
                    first = first < 0 ? k : first;
                    last = k;
                }
            }

            First[m] = Math.Max(first, 0);
            Count[m] = first < 0 ? 0 : last - first + 1;
        }
    }

    public int MelBins { get; }

    public int FrequencyBins { get; }

    /// <summary>Row-major [MelBins × FrequencyBins].</summary>
    public float[] Weights { get; }

    /// <summary>First frequency bin with a non-zero weight, per mel bin.</summary>
    public int[] First { get; }

    /// <summary>Number of frequency bins from <see cref="First"/> that can be non-zero, per mel bin.</summary>
    public int[] Count { get; }

    public ReadOnlySpan<float> NonZeroWeights(int mel) => Weights.AsSpan((mel * FrequencyBins) + First[mel], Count[mel]);

    private static double HertzToMel(double hertz) =>
        hertz >= MinLogHertz ? MinLogMel + (Math.Log(hertz / MinLogHertz) / LogStep) : 3.0 * hertz / 200.0;

    private static double MelToHertz(double mel) =>
        mel >= MinLogMel ? MinLogHertz * Math.Exp(LogStep * (mel - MinLogMel)) : 200.0 * mel / 3.0;
}
