namespace Appliance.Audio;

/// <summary>
/// The audio format every speech model of the product takes (Whisper's feature extractor, Silero VAD, openWakeWord):
/// mono float samples in [-1, 1] at 16 kHz. Everything that feeds a model converts to it with <see cref="Mono16kConverter"/>.
/// </summary>
public static class SpeechAudio
{
    /// <summary>Samples per second: 16 000 (Whisper's <c>preprocessor_config.json</c> <c>sampling_rate</c>; Silero VAD and openWakeWord at 16 kHz).</summary>
    public const int SampleRate = 16000;

    /// <summary>A duration of <paramref name="samples"/> at <see cref="SampleRate"/>.</summary>
    /// <param name="samples">A sample count or position.</param>
    public static TimeSpan Duration(long samples) => TimeSpan.FromSeconds(samples / (double)SampleRate);

    /// <summary>Seconds of <paramref name="samples"/> at <see cref="SampleRate"/>.</summary>
    /// <param name="samples">A sample count or position.</param>
    public static double Seconds(long samples) => samples / (double)SampleRate;
}
