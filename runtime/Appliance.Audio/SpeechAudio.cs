namespace Appliance.Audio;

/// <summary>
/// The audio format every speech model of the product takes (Whisper's feature extractor, Silero VAD, openWakeWord):
/// mono float samples in [-1, 1] at 16 kHz. Everything that feeds a model converts to it with <see cref="Mono16kConverter"/>.
/// </summary>
public static class SpeechAudio
{
    /// <summary>Samples per second: 16 000 (Whisper's <c>preprocessor_config.json</c> <c>sampling_rate</c>; Silero VAD and openWakeWord at 16 kHz).</summary>
    public const int SampleRate = 16000;

    /// <summary>Ticks of <see cref="TimeSpan"/> per sample: 625, so every sample position is a whole number of ticks.</summary>
    private const long TicksPerSample = TimeSpan.TicksPerSecond / SampleRate;

    /// <summary>A duration of <paramref name="samples"/> at <see cref="SampleRate"/>, exact to the tick.</summary>
    /// <param name="samples">A sample count or position.</param>
    public static TimeSpan Duration(long samples) => TimeSpan.FromTicks(samples * TicksPerSample);

    /// <summary>
    /// The sample position nearest to <paramref name="duration"/> at <see cref="SampleRate"/>: the inverse of
    /// <see cref="Duration"/>, so a position stored as a time comes back as the same sample.
    /// </summary>
    /// <param name="duration">A time in the audio.</param>
    public static long Samples(TimeSpan duration) => (long)Math.Round(duration.Ticks / (double)TicksPerSample, MidpointRounding.AwayFromZero);

    /// <summary>Seconds of <paramref name="samples"/> at <see cref="SampleRate"/>.</summary>
    /// <param name="samples">A sample count or position.</param>
    public static double Seconds(long samples) => samples / (double)SampleRate;
}
