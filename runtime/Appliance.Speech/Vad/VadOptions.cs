using Appliance.Audio;

namespace Appliance.Speech.Vad;

/// <summary>
/// Segmentation of speech probabilities into segments: hysteresis between <see cref="StartThreshold"/> and the lower
/// <see cref="EndThreshold"/>, segments shorter than <see cref="MinSpeechDuration"/> dropped, pauses shorter than
/// <see cref="MinSilenceDuration"/> bridged, and <see cref="SpeechPad"/> added on both sides (never across the
/// previous segment's end). Defaults follow the Silero VAD project's.
/// </summary>
public sealed record VadOptions
{
    /// <summary>Probability at or above which speech starts.</summary>
    public float StartThreshold { get; init; } = 0.5f;

    /// <summary>Probability below which speech may end (lower than <see cref="StartThreshold"/>).</summary>
    public float EndThreshold { get; init; } = 0.35f;

    /// <summary>Speech shorter than this is not reported.</summary>
    public TimeSpan MinSpeechDuration { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Silence must last this long before speech ends.</summary>
    public TimeSpan MinSilenceDuration { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Added before each start and after each end.</summary>
    public TimeSpan SpeechPad { get; init; } = TimeSpan.FromMilliseconds(30);

    /// <summary>Null when the options are usable; otherwise what is wrong.</summary>
    public string? Validate() =>
        StartThreshold is <= 0 or > 1 ? "StartThreshold must be in (0, 1]."
        : EndThreshold < 0 || EndThreshold > StartThreshold ? "EndThreshold must be in [0, StartThreshold]."
        : MinSpeechDuration < TimeSpan.Zero || MinSilenceDuration < TimeSpan.Zero || SpeechPad < TimeSpan.Zero ? "Durations must not be negative."
        : null;
}

/// <summary>Whether a <see cref="VadEvent"/> starts or ends speech.</summary>
public enum VadEventKind
{
    /// <summary>Speech starts at <see cref="VadEvent.Sample"/>.</summary>
    SpeechStart,

    /// <summary>Speech ends at <see cref="VadEvent.Sample"/> (exclusive).</summary>
    SpeechEnd,
}

/// <summary>A speech boundary, in samples at 16 kHz from the start of the stream.</summary>
/// <param name="Kind">Start or end.</param>
/// <param name="Sample">The boundary's sample index (padding included).</param>
public readonly record struct VadEvent(VadEventKind Kind, long Sample)
{
    /// <summary><see cref="Sample"/> as time.</summary>
    public TimeSpan Time => TimeSpan.FromSeconds(Sample / (double)SpeechAudio.SampleRate);
}

/// <summary>One stretch of speech, <see cref="Start"/> inclusive to <see cref="End"/> exclusive, in samples at 16 kHz.</summary>
/// <param name="Start">First sample.</param>
/// <param name="End">One past the last sample.</param>
public readonly record struct SpeechSegment(long Start, long End)
{
    /// <summary>Start as time.</summary>
    public TimeSpan StartTime => TimeSpan.FromSeconds(Start / (double)SpeechAudio.SampleRate);

    /// <summary>End as time.</summary>
    public TimeSpan EndTime => TimeSpan.FromSeconds(End / (double)SpeechAudio.SampleRate);
}
