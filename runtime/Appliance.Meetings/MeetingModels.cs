namespace Appliance.Meetings;

/// <summary>How stored states read on the wire.</summary>
public static class MeetingStates
{
    /// <summary>The phase a control reply or progress event names for a stored state.</summary>
    /// <param name="state">The session's stored state.</param>
    public static MeetingPhase Phase(this MeetingState state) => state switch
    {
        MeetingState.Open => MeetingPhase.Recording,
        MeetingState.Stopping => MeetingPhase.Transcribing,
        MeetingState.Completed => MeetingPhase.Completed,
        _ => MeetingPhase.Aborted,
    };
}

/// <summary>The rules stored start parameters must follow.</summary>
internal static class MeetingParameterRules
{
    /// <summary>Why the parameters cannot be stored, or null.</summary>
    public static string? Problem(this MeetingParameters parameters)
    {
        if (string.IsNullOrEmpty(parameters.Codec) || parameters.Codec.Length > 32 || !parameters.Codec.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            return "codec must be 1 to 32 characters of letters, digits, '_', '-' or '.'";
        }

        if (parameters.SampleRate is < 8_000 or > 192_000)
        {
            return "sampleRate must be between 8000 and 192000";
        }

        if (parameters.Channels is < 1 or > 8)
        {
            return "channels must be between 1 and 8";
        }

        if (parameters.LanguageHint is { Length: 0 or > 35 })
        {
            return "languageHint must be 1 to 35 characters when given";
        }

        if (parameters.Participants is null || parameters.Participants.Count > 64 || parameters.Participants.Any(p => string.IsNullOrWhiteSpace(p) || p.Length > 128))
        {
            return "participants must be at most 64 non-empty names of at most 128 characters";
        }

        if (parameters.Summary is { MaxKeyPoints: < 1 or > 50 } or { MaxSummarySentences: < 1 or > 50 })
        {
            return "summary limits must be between 1 and 50";
        }

        return null;
    }
}

/// <summary>
/// One audio frame as sent by the earbuds. Sequence numbers rise by one per frame. They start at 0 for each session,
/// or anywhere at or above the reorder window (the first frame then begins the timeline), and may start again from 0
/// after a repeated start (the device rebooted).
/// </summary>
/// <param name="Sequence">The frame's sequence number, as the device numbers it.</param>
/// <param name="Codec">The codec the frame is encoded with; must match the session's.</param>
/// <param name="TimestampMicroseconds">The sender's capture time of the frame, in microseconds (opaque to the store).</param>
/// <param name="Payload">The encoded audio. <see cref="MeetingSessionManager.AcceptFrame"/> copies it, so the caller may reuse its buffer; frames handed out by the manager own their memory.</param>
public readonly record struct AudioFrame(long Sequence, string Codec, long TimestampMicroseconds, ReadOnlyMemory<byte> Payload);
