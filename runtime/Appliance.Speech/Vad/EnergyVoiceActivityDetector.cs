using Appliance.Audio;

namespace Appliance.Speech.Vad;

/// <summary>
/// The fallback when no VAD model is installed: the level of each 32 ms window against a noise floor that follows the
/// quietest recent windows (falling at once, rising 0.5 dB per second), mapped to a pseudo-probability with a logistic
/// curve centred <see cref="MarginDb"/> above the floor. Cruder than Silero (noise bursts count as speech) but needs
/// nothing installed.
/// </summary>
public sealed class EnergyVoiceActivityDetector : IVoiceActivityDetector
{
    /// <summary>Level above the noise floor at which the pseudo-probability is 0.5.</summary>
    public const double MarginDb = 12;

    private readonly WindowedDetector _detector;

    /// <summary>Creates a detector; throws <see cref="ArgumentException"/> when <paramref name="options"/> are invalid.</summary>
    public EnergyVoiceActivityDetector(VadOptions? options = null)
    {
        options ??= new VadOptions();
        if (options.Validate() is { } problem)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        _detector = new WindowedDetector(new EnergyScorer(), options);
    }

    /// <inheritdoc/>
    public string Kind => "energy";

    /// <inheritdoc/>
    public long ProcessedSamples => _detector.ProcessedSamples;

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Process(ReadOnlySpan<float> samples) => _detector.Process(samples);

    /// <inheritdoc/>
    public IReadOnlyList<VadEvent> Flush() => _detector.Flush();

    /// <inheritdoc/>
    public void Reset() => _detector.Reset();

    /// <inheritdoc/>
    public void Dispose() => _detector.Dispose();

    private sealed class EnergyScorer : IWindowScorer
    {
        private const double LowestFloorDb = -75;
        private const double SilenceDb = -100;
        private const double RisePerWindowDb = 0.5 * 512 / SpeechAudio.SampleRate;
        private double _floorDb = LowestFloorDb;

        public int WindowSamples => 512;

        public float Score(ReadOnlySpan<float> window)
        {
            double sum = 0;
            foreach (var s in window)
            {
                sum += s * s;
            }

            var rms = Math.Sqrt(sum / window.Length);
            var db = rms > 0 ? Math.Max(SilenceDb, 20 * Math.Log10(rms)) : SilenceDb;
            _floorDb = Math.Max(LowestFloorDb, db < _floorDb ? db : _floorDb + RisePerWindowDb);
            return (float)(1 / (1 + Math.Exp(-(db - (_floorDb + MarginDb)) / 2)));
        }

        public void Reset() => _floorDb = LowestFloorDb;

        public void Dispose()
        {
        }
    }
}
