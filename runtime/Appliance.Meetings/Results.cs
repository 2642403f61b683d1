namespace Appliance.Meetings;

/// <summary>The outcome of a session command (start, stop, abort, complete, delete, transcript append).</summary>
public enum MeetingResult
{
    /// <summary>Done.</summary>
    Ok,

    /// <summary>The command had already been done with the same effect (a repeated start with equal parameters, a repeated stop or abort); nothing changed.</summary>
    AlreadyDone,

    /// <summary>No session has this id.</summary>
    UnknownSession,

    /// <summary>The id breaks <see cref="Identifiers.IsValidSessionId"/>.</summary>
    InvalidSessionId,

    /// <summary>
    /// A folder of that name is on disk but holds no session the store could read at start-up (or, where the file
    /// system ignores case, another session's); it is left untouched and the start refused.
    /// </summary>
    FolderTaken,

    /// <summary>As many sessions as <see cref="MeetingStoreOptions.Capacity"/> are open already; a new one is refused (try again later, or another device).</summary>
    Busy,

    /// <summary>The start parameters or the summary are invalid.</summary>
    InvalidArgument,

    /// <summary>The session was already started with different parameters.</summary>
    ParametersConflict,

    /// <summary>The session's state does not allow the command (for example completing an open session, or stopping an aborted one).</summary>
    InvalidState,

    /// <summary>The disk refused the write (read-only, removed, failing); the session is unchanged.</summary>
    StorageError,

    /// <summary>
    /// The disk is full (the write failed with ENOSPC or EDQUOT), or, for a new session, has less free space than
    /// <see cref="MeetingStoreOptions.MinFreeBytes"/>; the session is unchanged.
    /// </summary>
    StorageFull,
}

/// <summary>The outcome of offering one audio frame.</summary>
public enum FrameResult
{
    /// <summary>Journaled and flushed to the disk; the frame counts as received.</summary>
    Accepted,

    /// <summary>This sequence number was accepted before (also before a restart); dropped and counted.</summary>
    Duplicate,

    /// <summary>This sequence number was already skipped as a gap (it came later than the reorder window allows); dropped and counted.</summary>
    Late,

    /// <summary>No session has this id.</summary>
    UnknownSession,

    /// <summary>The session is stopped, completed or aborted; counted.</summary>
    SessionNotOpen,

    /// <summary>The frame's codec differs from the session's; counted.</summary>
    CodecMismatch,

    /// <summary>The payload is larger than <see cref="MeetingStoreOptions.MaxFrameBytes"/> or empty; counted.</summary>
    InvalidPayload,

    /// <summary>The sequence number is negative.</summary>
    InvalidSequence,

    /// <summary>The disk refused the write; the frame is not accepted and the journal is unchanged.</summary>
    StorageError,
}

/// <summary>One frame offered to <see cref="MeetingSessionManager.AcceptFrames"/>.</summary>
public readonly record struct IncomingFrame(string SessionId, AudioFrame Frame);

/// <summary>The outcome of <see cref="MeetingSessionManager.Stop"/>.</summary>
/// <param name="Result"><see cref="MeetingResult.Ok"/>, <see cref="MeetingResult.AlreadyDone"/>, or why it was refused.</param>
/// <param name="Gaps">Every gap of the session.</param>
public sealed record StopOutcome(MeetingResult Result, IReadOnlyList<SequenceGap> Gaps);

/// <summary>A session found open or stopping when the manager started.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="AcceptedFrames">Frames kept in the audio journal.</param>
/// <param name="StopPending">A stop was persisted before the restart: finish the transcript and the summary.</param>
/// <param name="AudioRecovery">What the audio journal scan found.</param>
/// <param name="TranscriptRecovery">What the transcript journal scan found.</param>
public sealed record ResumedSession(string SessionId, long AcceptedFrames, bool StopPending, JournalRecovery AudioRecovery, JournalRecovery TranscriptRecovery);

/// <summary>What a journal scan found at open.</summary>
/// <param name="RecordsKept">Complete records kept.</param>
/// <param name="BytesTruncated">Bytes cut from the tail (a torn or corrupt record and everything after it).</param>
/// <param name="Damage">Why the tail was cut.</param>
public sealed record JournalRecovery(long RecordsKept, long BytesTruncated, JournalDamage Damage);

/// <summary>Why a journal's tail was cut at open.</summary>
public enum JournalDamage
{
    /// <summary>The journal was intact.</summary>
    None,

    /// <summary>The last record was incomplete (a write cut short by a crash or power loss).</summary>
    TornTail,

    /// <summary>A record had an impossible length, a wrong checksum or an unreadable body.</summary>
    Corrupt,

    /// <summary>The file header was missing or wrong.</summary>
    BadHeader,
}

/// <summary>What the manager found in its root directory at construction.</summary>
/// <param name="Resumed">Open and stopping sessions, resumed.</param>
/// <param name="Skipped">Folders that are not readable sessions, with the reason; left on disk for a person to look at.</param>
/// <param name="StateRepairs">Sessions one copy of whose state file was damaged and restored from the other, with what was found.</param>
public sealed record MeetingRecoveryReport(IReadOnlyList<ResumedSession> Resumed, IReadOnlyList<string> Skipped, IReadOnlyList<string> StateRepairs);
