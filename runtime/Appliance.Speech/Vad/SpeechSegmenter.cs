using Appliance.Audio;

namespace Appliance.Speech.Vad;

/// <summary>
/// Turns per-window speech probabilities into start/end events (see <see cref="VadOptions"/>). A start is reported once
/// speech has lasted the minimum duration, an end once silence has; positions are in samples and include padding.
/// </summary>
internal sealed class SpeechSegmenter(VadOptions options, int windowSamples)
{
    private readonly long _minSpeech = Samples(options.MinSpeechDuration);
    private readonly long _minSilence = Samples(options.MinSilenceDuration);
    private readonly long _pad = Samples(options.SpeechPad);
    private bool _inSpeech;
    private bool _startReported;
    private long _speechStart;
    private long? _silenceStart;
    private long _lastEnd;

    /// <summary>Adds the probability of the window that starts at <paramref name="windowStart"/>.</summary>
    public void Add(long windowStart, float probability, List<VadEvent> events)
    {
        var windowEnd = windowStart + windowSamples;
        if (!_inSpeech)
        {
            if (probability >= options.StartThreshold)
            {
                _inSpeech = true;
                _startReported = false;
                _speechStart = windowStart;
                _silenceStart = null;
            }

            return;
        }

        if (probability >= options.EndThreshold)
        {
            // Between the thresholds speech goes on; only a fall below the end threshold counts as silence.
            _silenceStart = null;
        }
        else
        {
            _silenceStart ??= windowStart;
            if (windowEnd - _silenceStart.Value >= _minSilence)
            {
                End(_silenceStart.Value, windowEnd, events);
                return;
            }
        }

        if (!_startReported && (_silenceStart ?? windowEnd) - _speechStart >= _minSpeech)
        {
            ReportStart(events);
        }
    }

    /// <summary>Closes an open segment at <paramref name="streamEnd"/> and resets.</summary>
    public void Flush(long streamEnd, List<VadEvent> events)
    {
        if (_inSpeech)
        {
            End(_silenceStart ?? streamEnd, streamEnd, events);
        }

        Reset();
    }

    public void Reset()
    {
        _inSpeech = false;
        _startReported = false;
        _silenceStart = null;
        _lastEnd = 0;
    }

    private void End(long speechEnd, long limit, List<VadEvent> events)
    {
        if (!_startReported && speechEnd - _speechStart >= _minSpeech)
        {
            ReportStart(events);
        }

        if (_startReported)
        {
            _lastEnd = Math.Min(speechEnd + _pad, limit);
            events.Add(new VadEvent(VadEventKind.SpeechEnd, _lastEnd));
        }

        _inSpeech = false;
        _startReported = false;
        _silenceStart = null;
    }

    private void ReportStart(List<VadEvent> events)
    {
        _startReported = true;
        events.Add(new VadEvent(VadEventKind.SpeechStart, Math.Max(_speechStart - _pad, _lastEnd)));
    }

    private static long Samples(TimeSpan duration) => (long)Math.Round(duration.TotalSeconds * SpeechAudio.SampleRate);
}
