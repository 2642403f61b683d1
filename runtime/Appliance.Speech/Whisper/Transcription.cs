using Appliance.Speech.Vad;

namespace Appliance.Speech.Whisper;

/// <summary>What to transcribe and how.</summary>
public sealed record TranscriptionOptions
{
    /// <summary>Language code (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>, …); null detects it per window.</summary>
    public string? Language { get; init; }

    /// <summary>Ask for timestamp tokens and split each window into timed segments.</summary>
    public bool Timestamps { get; init; }

    /// <summary>1 for greedy decoding; more for beam search with that many beams.</summary>
    public int BeamSize { get; init; } = 1;

    /// <summary>Most tokens generated per 30 s window.</summary>
    public int MaxNewTokens { get; init; } = 224;

    /// <summary>
    /// Speech found by a VAD over the same audio: windows then start at speech, cover only speech, and end on a
    /// segment boundary (a segment longer than 30 s is cut). Null cuts the audio into consecutive 30 s windows.
    /// </summary>
    public IReadOnlyList<SpeechSegment>? Speech { get; init; }

    /// <summary>Receives, on the decoding thread just before each decoder step, the number of steps started so far.</summary>
    public IProgress<int>? DecoderSteps { get; init; }
}

/// <summary>Transcribed text with its place in the audio.</summary>
/// <param name="Start">Start, from the beginning of the audio.</param>
/// <param name="End">End, from the beginning of the audio.</param>
/// <param name="Text">The text, special and timestamp tokens left out.</param>
/// <param name="Tokens">The generated token ids of the segment (timestamps included).</param>
/// <param name="Language">The language decoded with (given, or detected for the window).</param>
/// <param name="Window">Index of the 30 s window it came from.</param>
public sealed record RecognizedSegment(TimeSpan Start, TimeSpan End, string Text, IReadOnlyList<int> Tokens, string Language, int Window);

/// <summary>One item of <see cref="WhisperTranscriber.StreamAsync"/>.</summary>
public abstract record TranscriptionEvent;

/// <summary>A finished segment (partial result of a longer transcription).</summary>
/// <param name="Segment">The segment.</param>
public sealed record RecognizedSegmentEvent(RecognizedSegment Segment) : TranscriptionEvent;

/// <summary>The last event of a stream that ran to the end or was cancelled.</summary>
/// <param name="Windows">Windows decoded.</param>
/// <param name="Cancelled">True when the token fired; the segments before it stand.</param>
public sealed record TranscriptionCompleted(int Windows, bool Cancelled) : TranscriptionEvent;

/// <summary>The last event of a stream that could not run (bad input or an inference failure).</summary>
/// <param name="Error">Why.</param>
public sealed record TranscriptionFailed(SpeechError Error) : TranscriptionEvent;

/// <summary>A whole transcription gathered.</summary>
/// <param name="Segments">Segments in order.</param>
/// <param name="Error">Null on success (including a cancelled run, see <paramref name="Cancelled"/>).</param>
/// <param name="Cancelled">True when the token fired before the end.</param>
public sealed record TranscriptionResult(IReadOnlyList<RecognizedSegment> Segments, SpeechError? Error, bool Cancelled)
{
    /// <summary>The segments' texts joined with spaces.</summary>
    public string Text => string.Join(" ", Segments.Select(s => s.Text.Trim()).Where(t => t.Length > 0));
}

/// <summary>Cuts audio into windows of at most 30 s for Whisper.</summary>
internal static class LongFormPlanner
{
    public static List<(long Start, long End)> Plan(long totalSamples, IReadOnlyList<SpeechSegment>? speech, long windowSamples)
    {
        var windows = new List<(long, long)>();
        if (speech is null)
        {
            for (long start = 0; start < totalSamples; start += windowSamples)
            {
                windows.Add((start, Math.Min(totalSamples, start + windowSamples)));
            }

            return windows;
        }

        long? windowStart = null;
        long windowEnd = 0;
        foreach (var segment in speech.Select(s => (Start: Math.Clamp(s.Start, 0, totalSamples), End: Math.Clamp(s.End, 0, totalSamples))).Where(s => s.End > s.Start).OrderBy(s => s.Start))
        {
            var (start, end) = segment;
            if (windowStart is { } open && end - open <= windowSamples)
            {
                windowEnd = end;
                continue;
            }

            if (windowStart is { } done)
            {
                windows.Add((done, windowEnd));
            }

            // A segment longer than a window is cut into full windows; its rest opens the next one.
            while (end - start > windowSamples)
            {
                windows.Add((start, start + windowSamples));
                start += windowSamples;
            }

            windowStart = start;
            windowEnd = end;
        }

        if (windowStart is { } last)
        {
            windows.Add((last, windowEnd));
        }

        return windows;
    }
}
