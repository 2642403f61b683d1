using Appliance.Contracts;

namespace Appliance.MeetingPlayer;

/// <summary>The codec of the audio frames, as named on the wire.</summary>
public enum MeetingCodec
{
    /// <summary>One Opus packet per frame (<c>"opus"</c>).</summary>
    Opus,

    /// <summary>Raw 16-bit little-endian PCM, mono (<c>"pcm_s16le"</c>).</summary>
    PcmS16LE,
}

/// <summary>The wire name of each codec the player sends.</summary>
public static class MeetingCodecs
{
    /// <summary>The codec's name in the start command and the frames' <c>codec</c> property (see <see cref="AudioCodecs"/>).</summary>
    /// <param name="codec">The codec.</param>
    public static string Name(this MeetingCodec codec) => codec == MeetingCodec.Opus ? AudioCodecs.Opus : AudioCodecs.PcmS16LE;
}

/// <summary>How to stream one recording: codec, framing, pacing, simulated radio faults, and the start fields.</summary>
public sealed record MeetingStreamOptions
{
    public MeetingCodec Codec { get; init; } = MeetingCodec.Opus;

    /// <summary>Rate of the frames on the wire: 16000 or 48000. Null picks 48000 for Opus and 16000 for PCM.</summary>
    public int? SampleRate { get; init; }

    /// <summary>Frame duration; Opus accepts 10, 20, 40 or 60 ms, PCM any whole number of ms from 10 to 120.</summary>
    public int FrameMs { get; init; } = 20;

    /// <summary>1 is real time, 4 four times faster, 0 as fast as the connection takes them.</summary>
    public double Speed { get; init; } = 1.0;

    /// <summary>Chance that a frame is never sent (0..1).</summary>
    public double LossRate { get; init; }

    /// <summary>Chance that a sent frame is sent a second time right after (0..1).</summary>
    public double DuplicateRate { get; init; }

    /// <summary>Chance that a frame swaps places with one of the next three frames (0..1).</summary>
    public double ReorderRate { get; init; }

    /// <summary>Seed of the fault simulation; the same seed and audio give the same faults.</summary>
    public int Seed { get; init; } = 1;

    public string Language { get; init; } = "en";

    public IReadOnlyList<string> Participants { get; init; } = [];

    /// <summary>How long a start, stop or abort waits for the daemon's reply.</summary>
    public TimeSpan ControlTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The rate actually used.</summary>
    public int EffectiveSampleRate => SampleRate ?? (Codec == MeetingCodec.Opus ? 48000 : 16000);

    /// <summary>Null when the options are usable, else what is wrong with them.</summary>
    public string? Validate()
    {
        if (EffectiveSampleRate is not (16000 or 48000))
        {
            return $"The sample rate must be 16000 or 48000, not {EffectiveSampleRate}.";
        }

        if (Codec == MeetingCodec.Opus && FrameMs is not (10 or 20 or 40 or 60))
        {
            return $"Opus frames are 10, 20, 40 or 60 ms, not {FrameMs}.";
        }

        if (FrameMs is < 10 or > 120)
        {
            return $"The frame length must be 10 to 120 ms, not {FrameMs}.";
        }

        if (!double.IsFinite(Speed) || Speed < 0)
        {
            return $"The speed must be 0 (as fast as possible) or positive, not {Speed}.";
        }

        foreach (var (name, rate) in new[] { ("loss", LossRate), ("duplicate", DuplicateRate), ("reorder", ReorderRate) })
        {
            if (!(rate is >= 0 and <= 1))
            {
                return $"The {name} rate must lie between 0 and 1, not {rate}.";
            }
        }

        return ControlTimeout <= TimeSpan.Zero ? "The control timeout must be positive." : null;
    }
}

/// <summary>What one stream did on the wire.</summary>
/// <param name="Frames">Frames cut from the audio (sequence numbers 0 .. Frames-1).</param>
/// <param name="Sent">Publishes of audio frames, duplicates included.</param>
/// <param name="Lost">Frames never sent.</param>
/// <param name="Duplicated">Frames sent twice.</param>
/// <param name="Reordered">Swaps of a frame with a later neighbour.</param>
/// <param name="LastSequence">The last sequence number cut (Frames - 1; -1 for no audio), as given to stop.</param>
/// <param name="AudioDuration">Length of the audio streamed.</param>
/// <param name="Elapsed">Wall time from the first frame to the last.</param>
public sealed record MeetingStreamCounts(long Frames, long Sent, long Lost, long Duplicated, long Reordered, long LastSequence, TimeSpan AudioDuration, TimeSpan Elapsed);

/// <summary>
/// The outcome of <see cref="MeetingStreamer.StreamAsync"/>. When start is refused, <see cref="StartReply"/> holds the
/// error and nothing was sent; when stop is refused, <see cref="StopReply"/> holds it.
/// </summary>
public sealed record MeetingStreamResult(RpcResult<MeetingControlResult> StartReply, MeetingStreamCounts? Counts, RpcResult<MeetingControlResult>? StopReply)
{
    /// <summary>Both start and stop were accepted.</summary>
    public bool Succeeded => StartReply.Succeeded && StopReply is { Succeeded: true };
}

/// <summary>Something the daemon published about the meeting.</summary>
public abstract record MeetingEvent(ObservedMessage Message);

public sealed record TranscriptEvent(ObservedMessage Message, TranscriptSegment Segment) : MeetingEvent(Message);

public sealed record ProgressEvent(ObservedMessage Message, MeetingProgress Progress) : MeetingEvent(Message);

/// <summary>The summary; <see cref="MeetingEvent.Message"/>.Retain is true when the broker replayed a stored one.</summary>
public sealed record SummaryEvent(ObservedMessage Message, MeetingSummary Summary) : MeetingEvent(Message);

/// <summary>A message on a meeting topic that could not be read; <see cref="Reason"/> says why.</summary>
public sealed record MalformedEvent(ObservedMessage Message, string Reason) : MeetingEvent(Message);
