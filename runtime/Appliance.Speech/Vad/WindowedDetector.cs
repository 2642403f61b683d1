namespace Appliance.Speech.Vad;

/// <summary>Scores fixed-size windows of 16 kHz audio with a speech probability.</summary>
internal interface IWindowScorer : IDisposable
{
    int WindowSamples { get; }

    float Score(ReadOnlySpan<float> window);

    void Reset();
}

/// <summary>Cuts the stream into the scorer's windows (buffering a partial one) and feeds the segmenter.</summary>
internal sealed class WindowedDetector : IDisposable
{
    private readonly IWindowScorer _scorer;
    private readonly SpeechSegmenter _segmenter;
    private readonly float[] _window;
    private int _filled;
    private long _windowStart;

    public WindowedDetector(IWindowScorer scorer, VadOptions options)
    {
        _scorer = scorer;
        _segmenter = new SpeechSegmenter(options, scorer.WindowSamples);
        _window = new float[scorer.WindowSamples];
    }

    public long ProcessedSamples => _windowStart + _filled;

    public IReadOnlyList<VadEvent> Process(ReadOnlySpan<float> samples)
    {
        var events = new List<VadEvent>();
        while (!samples.IsEmpty)
        {
            var take = Math.Min(samples.Length, _window.Length - _filled);
            samples[..take].CopyTo(_window.AsSpan(_filled));
            samples = samples[take..];
            _filled += take;
            if (_filled == _window.Length)
            {
                _segmenter.Add(_windowStart, _scorer.Score(_window), events);
                _windowStart += _window.Length;
                _filled = 0;
            }
        }

        return events;
    }

    public IReadOnlyList<VadEvent> Flush()
    {
        var events = new List<VadEvent>();
        _segmenter.Flush(ProcessedSamples, events);
        Reset();
        return events;
    }

    public void Reset()
    {
        _scorer.Reset();
        _segmenter.Reset();
        _filled = 0;
        _windowStart = 0;
    }

    public void Dispose() => _scorer.Dispose();
}
