namespace Appliance.Speech.Vad;

/// <summary>
/// A streaming voice activity detector over 16 kHz mono samples. Feed audio in chunks of any size with
/// <see cref="Process"/>; events come out with sample-accurate positions counted from the first sample fed (or from
/// the last <see cref="Reset"/>). Not thread-safe: one stream per instance.
/// </summary>
public interface IVoiceActivityDetector : IDisposable
{
    /// <summary>"silero" or "energy", for status and logs.</summary>
    string Kind { get; }

    /// <summary>Samples fed so far.</summary>
    long ProcessedSamples { get; }

    /// <summary>Feeds samples and returns the boundaries they completed (often none).</summary>
    IReadOnlyList<VadEvent> Process(ReadOnlySpan<float> samples);

    /// <summary>Ends the stream: closes an open segment at the last sample fed. The detector is then reset.</summary>
    IReadOnlyList<VadEvent> Flush();

    /// <summary>Forgets the stream (model state, buffered samples, open segment) and restarts counting at 0.</summary>
    void Reset();
}

/// <summary>Helpers over <see cref="IVoiceActivityDetector"/>.</summary>
public static class VoiceActivity
{
    /// <summary>Runs a whole clip through <paramref name="detector"/> (reset first) and pairs the events into segments.</summary>
    public static IReadOnlyList<SpeechSegment> Segments(IVoiceActivityDetector detector, ReadOnlySpan<float> samples)
    {
        ArgumentNullException.ThrowIfNull(detector);
        detector.Reset();
        var events = new List<VadEvent>(detector.Process(samples));
        events.AddRange(detector.Flush());
        var segments = new List<SpeechSegment>();
        long? start = null;
        foreach (var e in events)
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                start = e.Sample;
            }
            else if (start is { } s)
            {
                segments.Add(new SpeechSegment(s, e.Sample));
                start = null;
            }
        }

        return segments;
    }
}
