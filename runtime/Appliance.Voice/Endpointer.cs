using Appliance.Audio;
using Appliance.Speech.Vad;

namespace Appliance.Voice;

/// <summary>
/// End-pointing of one spoken command, from its trigger (the wake word or the push-to-talk button) on: it keeps the
/// audio (16 kHz mono) and ends the utterance once voice activity detection has heard speech stop and the trailing
/// silence has passed with no new speech, at the longest utterance, or when <see cref="Stop"/> is called (the button
/// released). Not thread-safe: the microphone loop drives it.
/// </summary>
public sealed class Endpointer
{
    private readonly List<float> _audio = [];
    private readonly long _start;
    private readonly long _trailingSilence;
    private readonly long _maxSamples;
    private long _endAt = long.MaxValue;
    private bool _heardSpeech;

    /// <summary>Starts listening at <paramref name="startSample"/> of the microphone stream.</summary>
    /// <param name="startSample">The stream position of the trigger, in samples at 16 kHz.</param>
    /// <param name="speechInProgress">Whether speech is going on at the trigger (a wake word said in one breath with the command).</param>
    /// <param name="trailingSilence">The silence after speech that ends the utterance.</param>
    /// <param name="maxUtterance">The longest utterance.</param>
    public Endpointer(long startSample, bool speechInProgress, TimeSpan trailingSilence, TimeSpan maxUtterance)
    {
        _start = startSample;
        _heardSpeech = speechInProgress;
        _trailingSilence = SpeechAudio.Samples(trailingSilence);
        _maxSamples = SpeechAudio.Samples(maxUtterance);
    }

    /// <summary>Whether the utterance is over; <see cref="Utterance"/> then holds it.</summary>
    public bool IsComplete { get; private set; }

    /// <summary>Whether speech was heard after the trigger; an utterance without any is not a command.</summary>
    public bool HeardSpeech => _heardSpeech;

    /// <summary>Whether the utterance ran to the longest utterance rather than ending in silence.</summary>
    public bool ReachedLimit { get; private set; }

    /// <summary>The utterance's audio from the trigger to its end; empty until <see cref="IsComplete"/>.</summary>
    public float[] Utterance { get; private set; } = [];

    /// <summary>Ends the utterance now (the push-to-talk button was released), with the audio taken so far.</summary>
    public void Stop()
    {
        if (!IsComplete)
        {
            Utterance = [.. _audio.Take((int)Math.Min(_audio.Count, _maxSamples))];
            IsComplete = true;
        }
    }

    /// <summary>Takes the next microphone audio and the voice activity events found in it.</summary>
    /// <param name="samples">The audio following what came before (16 kHz mono).</param>
    /// <param name="streamPosition">The stream position of the first of <paramref name="samples"/>.</param>
    /// <param name="events">The voice activity events of this audio, in order.</param>
    /// <returns><see cref="IsComplete"/>.</returns>
    public bool Push(ReadOnlySpan<float> samples, long streamPosition, IEnumerable<VadEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (IsComplete)
        {
            return true;
        }

        var skip = (int)Math.Clamp(_start - streamPosition, 0, samples.Length);
        foreach (var sample in samples[skip..])
        {
            _audio.Add(sample);
        }

        foreach (var e in events)
        {
            if (e.Kind == VadEventKind.SpeechStart)
            {
                _heardSpeech = true;
                _endAt = long.MaxValue;
            }
            else if (_heardSpeech)
            {
                _endAt = Math.Max(e.Sample, _start) - _start + _trailingSilence;
            }
        }

        if (_audio.Count >= _endAt || _audio.Count >= _maxSamples)
        {
            ReachedLimit = _audio.Count < _endAt;
            Utterance = [.. _audio.Take((int)Math.Min(_audio.Count, Math.Min(_endAt, _maxSamples)))];
            IsComplete = true;
        }

        return IsComplete;
    }
}
