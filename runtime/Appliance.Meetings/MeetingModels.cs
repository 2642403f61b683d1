using System.Text.Json.Serialization;

namespace Appliance.Meetings;

/// <summary>The life-cycle state of a meeting session, as kept in its state file.</summary>
public enum MeetingState
{
    /// <summary>Accepting audio frames.</summary>
    Open,

    /// <summary>Stop received and persisted; audio is closed, the transcript and summary are being finished.</summary>
    Stopping,

    /// <summary>The summary is written; the session is kept until retention deletes it.</summary>
    Completed,

    /// <summary>Abandoned by the client; no summary will be made.</summary>
    Aborted,
}

/// <summary>Options for the summary the client asked for at start.</summary>
/// <param name="MaxKeyPoints">At most this many key points.</param>
/// <param name="MaxSummarySentences">At most this many sentences in the prose summary.</param>
/// <param name="OutputLanguage">Language of the summary (BCP 47); null means the meeting's language.</param>
public sealed record SummaryOptions(int MaxKeyPoints = 5, int MaxSummarySentences = 3, string? OutputLanguage = null);

/// <summary>
/// The parameters a client starts a session with. Two starts of one session are the same start when these are
/// equal (participants compared in order); a second start with different parameters is refused.
/// </summary>
/// <param name="Codec">Audio codec name, for example <c>"opus"</c> or <c>"pcm_s16le"</c>; every frame must carry the same.</param>
/// <param name="SampleRate">Samples per second.</param>
/// <param name="Channels">Channel count.</param>
/// <param name="LanguageHint">BCP 47 language the client expects, or null.</param>
/// <param name="Participants">Names of participants, used to attribute action items; may be empty.</param>
/// <param name="Summary">Summary options, or null for the defaults.</param>
public sealed record MeetingParameters(
    string Codec,
    int SampleRate,
    int Channels,
    string? LanguageHint,
    IReadOnlyList<string> Participants,
    SummaryOptions? Summary = null)
{
    /// <inheritdoc />
    public bool Equals(MeetingParameters? other) =>
        other is not null
        && string.Equals(Codec, other.Codec, StringComparison.Ordinal)
        && SampleRate == other.SampleRate
        && Channels == other.Channels
        && string.Equals(LanguageHint, other.LanguageHint, StringComparison.Ordinal)
        && (Participants ?? []).SequenceEqual(other.Participants ?? [], StringComparer.Ordinal)
        && Equals(Summary ?? new SummaryOptions(), other.Summary ?? new SummaryOptions());

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Codec, SampleRate, Channels, LanguageHint, Participants?.Count ?? 0);

    internal string? Problem()
    {
        if (string.IsNullOrEmpty(Codec) || Codec.Length > 32 || !Codec.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            return "codec must be 1 to 32 characters of letters, digits, '_', '-' or '.'";
        }

        if (SampleRate is < 8_000 or > 192_000)
        {
            return "sampleRate must be between 8000 and 192000";
        }

        if (Channels is < 1 or > 8)
        {
            return "channels must be between 1 and 8";
        }

        if (LanguageHint is { Length: 0 or > 35 })
        {
            return "languageHint must be 1 to 35 characters when given";
        }

        if (Participants is null || Participants.Count > 64 || Participants.Any(p => string.IsNullOrWhiteSpace(p) || p.Length > 128))
        {
            return "participants must be at most 64 non-empty names of at most 128 characters";
        }

        if (Summary is { MaxKeyPoints: < 1 or > 50 } or { MaxSummarySentences: < 1 or > 50 })
        {
            return "summary limits must be between 1 and 50";
        }

        return null;
    }
}

/// <summary>
/// One audio frame as sent by the earbuds. Sequence numbers start at 0 for each session and rise by one per frame.
/// </summary>
/// <param name="Sequence">The frame's sequence number (0-based, per session).</param>
/// <param name="Codec">The codec the frame is encoded with; must match the session's.</param>
/// <param name="TimestampMicroseconds">The sender's capture time of the frame, in microseconds (opaque to the store).</param>
/// <param name="Payload">The encoded audio. <see cref="MeetingSessionManager.AcceptFrame"/> copies it, so the caller may reuse its buffer; frames handed out by the manager own their memory.</param>
public readonly record struct AudioFrame(long Sequence, string Codec, long TimestampMicroseconds, ReadOnlyMemory<byte> Payload);

/// <summary>A run of frame sequence numbers that never arrived and were skipped.</summary>
/// <param name="FromSequence">The first missing sequence number.</param>
/// <param name="Count">How many consecutive sequence numbers are missing.</param>
public readonly record struct SequenceGap(
    [property: JsonPropertyName("fromSeq")] long FromSequence,
    [property: JsonPropertyName("count")] long Count);

/// <summary>
/// One transcript event. A later event with the same <paramref name="SegmentId"/> and a higher revision replaces the earlier text.
/// </summary>
/// <param name="SegmentId">Stable id of the segment.</param>
/// <param name="Start">Start of the segment from the beginning of the meeting audio.</param>
/// <param name="End">End of the segment.</param>
/// <param name="Text">The recognised text.</param>
/// <param name="Revision">Revision of this segment, starting at 0.</param>
public sealed record TranscriptSegment(string SegmentId, TimeSpan Start, TimeSpan End, string Text, int Revision);
