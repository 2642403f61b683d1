using Appliance.Audio;
using System.Numerics.Tensors;
using Appliance.Profiles;
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

    /// <summary>
    /// The device's languages and hallucination guards (the profile's <c>transcription</c> section): detection picks
    /// among its languages, a <see cref="Language"/> outside them is refused, and its guards judge every window.
    /// </summary>
    public TranscriptionSettings Settings { get; init; } = new();
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

/// <summary>
/// A window was decoded (sent before its segments): what the hallucination guards measured and decided, for logs and
/// diagnostics. A window judged to hold no speech has no segments.
/// </summary>
/// <param name="Window">Index of the window.</param>
/// <param name="Start">Start of the window in the audio.</param>
/// <param name="End">End of the window in the audio.</param>
/// <param name="Verdict">What the guards decided.</param>
/// <param name="Temperature">The temperature of the decode kept (0 unless a guard asked for retries).</param>
/// <param name="Fallbacks">Temperatures tried and rejected before it.</param>
/// <param name="AverageLogProbability">Average log-probability per token of the decode kept.</param>
/// <param name="CompressionRatio">Its text's UTF-8 length over the zlib-compressed length.</param>
/// <param name="NoSpeechProbability">The model's probability that the window holds no speech.</param>
public sealed record WindowDecodedEvent(int Window, TimeSpan Start, TimeSpan End, WindowVerdict Verdict, double Temperature, int Fallbacks, double AverageLogProbability, double CompressionRatio, double NoSpeechProbability) : TranscriptionEvent;

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

/// <summary>
/// Cuts 16 kHz mono audio into windows of at most 30 s for Whisper. Speech segments close together share a window; a
/// segment longer than a window is cut at the quietest 100 ms in the window's last <see cref="CutSearchSamples"/>,
/// not mid-word at exactly 30 s, and never so that less than <see cref="MinWindowSamples"/> is left over. A window
/// shorter than that (a lone short utterance) is widened with the audio around it, because Whisper invents text on
/// fragments decoded on their own. Without speech segments the whole audio is one segment.
/// </summary>
internal static class LongFormPlanner
{
    /// <summary>No window shorter than 1 s is decoded on its own (16000 samples at 16 kHz).</summary>
    public const long MinWindowSamples = SpeechAudio.SampleRate;

    /// <summary>How far back from a full window's end the cut of a long segment may go: 5 s.</summary>
    public const long CutSearchSamples = 5 * SpeechAudio.SampleRate;

    /// <summary>The span whose energy is measured when looking for a quiet place to cut: 100 ms.</summary>
    private const int QuietSpanSamples = SpeechAudio.SampleRate / 10;

    /// <summary>Plans the windows over <paramref name="audio"/>, in order, as sample offsets [Start, End).</summary>
    /// <param name="audio">The whole audio, 16 kHz mono.</param>
    /// <param name="speech">VAD segments in samples, or null for the whole audio; an empty list gives no windows.</param>
    /// <param name="windowSamples">The longest window, in samples (30 s for Whisper).</param>
    public static List<(long Start, long End)> Plan(ReadOnlySpan<float> audio, IReadOnlyList<SpeechSegment>? speech, long windowSamples)
    {
        long total = audio.Length;
        var segments = speech is null
            ? [(Start: 0L, End: total)]
            : speech.Select(s => (Start: Math.Clamp(s.Start, 0, total), End: Math.Clamp(s.End, 0, total))).Where(s => s.End > s.Start).OrderBy(s => s.Start).ToList();

        var windows = new List<(long Start, long End)>();
        long? windowStart = null;
        long windowEnd = 0;
        foreach (var segment in segments)
        {
            var (start, end) = segment;
            if (windowStart is { } open && Math.Max(end, windowEnd) - open <= windowSamples)
            {
                windowEnd = Math.Max(end, windowEnd); // a segment inside the last one does not shorten the window
                continue;
            }

            if (windowStart is { } done)
            {
                windows.Add((done, windowEnd));
            }

            // A segment longer than a window is cut into windows at quiet places; its rest opens the next one.
            while (end - start > windowSamples)
            {
                var from = Math.Max(start + MinWindowSamples, start + windowSamples - CutSearchSamples);
                var cut = QuietestCut(audio, from, Math.Max(from, Math.Min(start + windowSamples, end - MinWindowSamples)));
                windows.Add((start, cut));
                start = cut;
            }

            windowStart = start;
            windowEnd = end;
        }

        if (windowStart is { } last)
        {
            windows.Add((last, windowEnd));
        }

        for (var i = 0; i < windows.Count; i++)
        {
            if (windows[i].End - windows[i].Start >= MinWindowSamples)
            {
                continue;
            }

            // A short window stands alone only when its neighbours could not take it in (they are full). It widens
            // into the audio between them, so no sample is decoded twice; where that is under a second, it overlaps
            // them rather than be decoded as a fragment.
            var lower = i > 0 ? windows[i - 1].End : 0;
            var upper = i + 1 < windows.Count ? windows[i + 1].Start : total;
            windows[i] = upper - lower >= MinWindowSamples ? Widen(windows[i], lower, upper, windowSamples) : Widen(windows[i], 0, total, windowSamples);
        }

        return windows;
    }

    /// <summary>
    /// The sample in [<paramref name="from"/>, <paramref name="to"/>] at the middle of the 100 ms span with the least
    /// energy; the latest such span wins a tie, so a window stays as long as it can.
    /// </summary>
    private static long QuietestCut(ReadOnlySpan<float> audio, long from, long to)
    {
        from = Math.Max(from, QuietSpanSamples / 2);
        to = Math.Min(to, audio.Length - (QuietSpanSamples / 2));
        if (to <= from)
        {
            return Math.Max(to, 1);
        }

        var best = to;
        var bestEnergy = double.MaxValue;
        const int step = QuietSpanSamples / 4;
        for (var centre = to; centre >= from; centre -= step)
        {
            var span = audio.Slice((int)(centre - (QuietSpanSamples / 2)), QuietSpanSamples);
            var energy = (double)TensorPrimitives.SumOfSquares(span);
            if (energy < bestEnergy)
            {
                bestEnergy = energy;
                best = centre;
            }
        }

        return best;
    }

    /// <summary>
    /// Widens a window shorter than 1 s evenly on both sides with the audio around it, within
    /// [<paramref name="lower"/>, <paramref name="upper"/>) (the neighbouring windows' edges or the audio's).
    /// </summary>
    private static (long Start, long End) Widen((long Start, long End) window, long lower, long upper, long windowSamples)
    {
        var target = Math.Min(Math.Min(MinWindowSamples, windowSamples), upper - lower);
        var missing = target - (window.End - window.Start);
        if (missing <= 0)
        {
            return window;
        }

        var start = Math.Max(lower, window.Start - (missing / 2));
        var end = Math.Min(upper, start + target);
        return (end - target, end);
    }
}
