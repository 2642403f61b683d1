using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Appliance.Meetings;

/// <summary>
/// One session's files and in-memory state. Every member takes the session's own lock, so sessions never wait on
/// each other; the disk writes of one session happen under its lock only.
/// </summary>
internal sealed class MeetingSession : IDisposable
{
    public const string AudioFileName = "audio.journal";
    public const string TranscriptFileName = "transcript.journal";
    public const string SummaryFileName = "summary.json";
    private const int MaxTranscriptRecordBytes = 256 * 1024;
    private const int AudioHeaderBytes = 17;
    private const double ShortestFrameMilliseconds = 2.5; // Opus (RFC 6716); PCM frames are 10 ms or longer
    private static readonly byte[] AudioMagic = "AMAUDIO1"u8.ToArray();
    private static readonly byte[] TranscriptMagic = "AMTRANS1"u8.ToArray();

    private readonly Lock _sync = new();
    private readonly MeetingStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly SessionStateDocument _state;
    private ReorderBuffer? _reorder;
    private bool _numberingSeen; // the meeting's first frame has been offered, so its numbering's start is settled
    private RecordJournal? _audio;
    private RecordJournal? _transcript;
    private bool _deleted;
    private bool _stateUnsaved;
    private bool _renumberingExpected;
    private long _lastHeard; // timestamp of the last frame or start (a restart of the daemon counts as one)

    private MeetingSession(string directory, SessionStateDocument state, MeetingStoreOptions options, TimeProvider time)
    {
        Directory = directory;
        _state = state;
        _options = options;
        _time = time;
        _lastHeard = time.GetTimestamp();
    }

    public string Id => _state.SessionId;

    public string Directory { get; }

    public MeetingParameters Parameters => _state.Parameters;

    /// <summary>Creates the folder, the state file and empty journals. Throws <see cref="IOException"/> (after removing what it made) when the disk refuses.</summary>
    public static MeetingSession Create(string directory, string sessionId, MeetingParameters parameters, MeetingStoreOptions options, TimeProvider time)
    {
        var state = new SessionStateDocument
        {
            SessionId = sessionId,
            Parameters = parameters,
            State = MeetingState.Open,
            CreatedAt = time.GetUtcNow(),
        };
        var session = new MeetingSession(directory, state, options, time);
        try
        {
            AtomicFile.CreateDirectory(directory);
            session.SaveState();
            session.OpenJournals(out _, out _);
            AtomicFile.FlushDirectory(directory); // the journal files' directory entries
            return session;
        }
        catch (IOException)
        {
            session.Dispose();
            TryDeleteDirectory(directory);
            throw;
        }
    }

    /// <summary>
    /// Loads a session folder. Open and stopping sessions get their journals scanned, cut at the first bad record and
    /// replayed, and are reported in <paramref name="resumed"/>; a damaged copy of the state is restored from the other
    /// one and reported in <paramref name="stateRepair"/>. Throws <see cref="IOException"/> or
    /// <see cref="InvalidDataException"/> for a folder that is not a readable session.
    /// </summary>
    public static MeetingSession Load(string directory, MeetingStoreOptions options, TimeProvider time, out ResumedSession? resumed, out string? stateRepair)
    {
        var state = SessionStateFile.Load(directory, out stateRepair);
        var session = new MeetingSession(directory, state, options, time);
        resumed = null;
        if (state.State is MeetingState.Open or MeetingState.Stopping)
        {
            session.OpenJournals(out var audioRecovery, out var transcriptRecovery);
            var stopPending = state.State == MeetingState.Stopping;
            if (stopPending)
            {
                session._reorder!.Flush(state.ReleasedThrough); // the stop's trailing gap, which no journal record shows
            }

            session._state.Accepted = audioRecovery.RecordsKept;
            session._state.ReleasedThrough = session._reorder!.NextSequence - 1;
            resumed = new ResumedSession(state.SessionId, audioRecovery.RecordsKept, stopPending, audioRecovery, transcriptRecovery);
        }

        return session;
    }

    /// <summary>Whether the session takes audio: open, and not deleted.</summary>
    public bool IsOpen
    {
        get
        {
            lock (_sync)
            {
                return !_deleted && _state.State == MeetingState.Open;
            }
        }
    }

    public bool IsExpired(DateTimeOffset now, TimeSpan retention)
    {
        lock (_sync)
        {
            return !_deleted && _state.State is MeetingState.Completed or MeetingState.Aborted && _state.EndedAt + retention <= now;
        }
    }

    /// <summary>
    /// Offers frames of this session: each one that passes the checks is written to the journal, then all of them are
    /// flushed to the disk with one fsync (group commit), and only then do they count as accepted and enter the
    /// reorder buffer. Should a write fail (the disk full), that frame and the rest of the batch are refused for
    /// storage while the frames written before it are still flushed and accepted: a disk fills to its last whole frame.
    /// <paramref name="results"/> gets one result per frame, in order.
    /// </summary>
    public void Accept(IReadOnlyList<AudioFrame> frames, Span<FrameResult> results)
    {
        lock (_sync)
        {
            _lastHeard = _time.GetTimestamp();
            var written = new List<(int Index, AudioFrame Frame)>();
            var seen = new HashSet<long>();
            var floor = long.MinValue; // where the batch's accepted frames will have moved the reorder buffer on to
            var refusing = false;
            for (var i = 0; i < frames.Count; i++)
            {
                var frame = OnTimeline(frames[i]);
                results[i] = frames[i].Sequence < 0 ? FrameResult.InvalidSequence : Check(frame, seen, floor);
                if (results[i] != FrameResult.Accepted)
                {
                    continue;
                }


                if (refusing)
                {
                    // The journal failed on an earlier frame of this batch: the rest is refused for storage too.
                    results[i] = FrameResult.StorageError;
                    _state.StorageRefused++;
                    continue;
                }

                try
                {
                    AppendAudio(frame);
                    written.Add((i, frame));
                    floor = Math.Max(floor, frame.Sequence - _options.ReorderWindow + 1);
                }
                catch (IOException e)
                {
                    // The journal cut this frame away and keeps the ones before it, which the commit below decides.
                    NoteStorageFailure(e);
                    results[i] = FrameResult.StorageError;
                    _state.StorageRefused++;
                    refusing = true;
                }
            }

            if (written.Count == 0)
            {
                return;
            }

            try
            {
                _audio!.Commit();
            }
            catch (IOException e)
            {
                NoteStorageFailure(e);
                foreach (var (index, _) in written)
                {
                    results[index] = FrameResult.StorageError;
                }

                _state.StorageRefused += written.Count;
                return;
            }

            foreach (var (_, frame) in written)
            {
                _state.Accepted++;
                _reorder!.Add(frame.Sequence);
            }

            _state.ReleasedThrough = _reorder!.NextSequence - 1;
        }
    }

    /// <summary>Why the session refuses a frame whatever its number (deleted, not open, bad payload, other codec), or null; counts nothing.</summary>
    private FrameResult? Refusal(in AudioFrame frame) =>
        _deleted ? FrameResult.UnknownSession
        : _state.State != MeetingState.Open ? FrameResult.SessionNotOpen
        : frame.Payload.IsEmpty || frame.Payload.Length > _options.MaxFrameBytes ? FrameResult.InvalidPayload
        : !string.Equals(frame.Codec, _state.Parameters.Codec, StringComparison.Ordinal) ? FrameResult.CodecMismatch
        : null;

    /// <summary>
    /// Classifies one frame of a batch as the reorder buffer will see it once the batch's earlier accepted frames are in:
    /// a frame a whole window ahead moves the buffer on to <paramref name="floor"/>, and a new number below that is
    /// late, exactly as if the frames had come one by one (and as a replay of the journal classifies them).
    /// </summary>
    private FrameResult Check(in AudioFrame frame, HashSet<long> seenInBatch, long floor)
    {
        switch (Refusal(frame))
        {
            case FrameResult.UnknownSession:
                return FrameResult.UnknownSession;
            case FrameResult.SessionNotOpen:
                _state.AfterStop++;
                return FrameResult.SessionNotOpen;
            case FrameResult.InvalidPayload:
                _state.InvalidPayloads++;
                return FrameResult.InvalidPayload;
            case FrameResult.CodecMismatch:
                _state.CodecMismatches++;
                return FrameResult.CodecMismatch;
        }

        if (frame.Sequence < 0)
        {
            // Numbered before the frame that began the device's numbering, and arrived after it.
            _state.Late++;
            return FrameResult.Late;
        }

        switch (_reorder!.Classify(frame.Sequence))
        {
            case SequenceStatus.Late:
                _state.Late++;
                return FrameResult.Late;
            case SequenceStatus.Duplicate:
                _state.Duplicates++;
                return FrameResult.Duplicate;
        }

        if (seenInBatch.Contains(frame.Sequence))
        {
            _state.Duplicates++;
            return FrameResult.Duplicate;
        }

        if (frame.Sequence < floor)
        {
            _state.Late++;
            return FrameResult.Late;
        }

        seenInBatch.Add(frame.Sequence);
        return FrameResult.Accepted;
    }

    /// <summary>
    /// How far a reader of the audio journal may go: the committed length of the journal, the last sequence number
    /// released (every accepted frame up to it is inside that length), and whether the audio is closed (no frame
    /// will be added). Null when the session is deleted or aborted.
    /// </summary>
    public AudioReadLimit? ReadLimit()
    {
        lock (_sync)
        {
            return _deleted || _state.State == MeetingState.Aborted
                ? null
                : new AudioReadLimit(_audio?.CommittedLength ?? new FileInfo(Path.Combine(Directory, AudioFileName)).Length, _state.ReleasedThrough, _state.State != MeetingState.Open);
        }
    }

    /// <summary>How far the transcript is made, as recorded (exact; <see cref="Snapshot"/> rounds it for people).</summary>
    public TimeSpan TranscribedThrough
    {
        get
        {
            lock (_sync)
            {
                return _state.TranscribedThrough;
            }
        }
    }

    /// <summary>Records how far the transcript is made (persisted with the state file, with the drop counters).</summary>
    public MeetingResult SetTranscribedThrough(TimeSpan through)
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return MeetingResult.UnknownSession;
            }

            if (_state.State is not (MeetingState.Open or MeetingState.Stopping))
            {
                return MeetingResult.InvalidState;
            }

            _state.TranscribedThrough = through;
            return TrySave() ? MeetingResult.Ok : StorageFailure;
        }
    }

    /// <summary>
    /// The device may number from 0 again (it rebooted): a start repeated while the meeting is open arms the check, and
    /// the first frame after it that lies well behind everything received (more than the reorder window) begins a new
    /// run of numbers, placed after the highest one received. Nothing is taken for a duplicate that is not one.
    /// </summary>
    public void ExpectRenumbering()
    {
        lock (_sync)
        {
            _lastHeard = _time.GetTimestamp();
            _renumberingExpected = _state.State == MeetingState.Open && !_deleted;
        }
    }

    /// <summary>
    /// A frame as it lies on the meeting's timeline: its sequence number plus the base of the device's current numbering.
    /// A device may number from anywhere (as RTP senders do, from a random start): when the meeting's first usable frame
    /// (one the session would take whatever its number) is numbered at or above the reorder window, it begins the
    /// timeline, and a frame numbered below it is late. Lower first numbers count from 0, as the
    /// contract asks, so that the loss of a meeting's first frames still shows as a gap.
    /// </summary>
    private AudioFrame OnTimeline(AudioFrame frame)
    {
        if (!_numberingSeen && _state.Accepted == 0 && _state.SequenceRestarts == 0 && frame.Sequence >= 0 && Refusal(frame) is null)
        {
            _numberingSeen = true;
            if (frame.Sequence >= _options.ReorderWindow)
            {
                _state.SequenceBase = -frame.Sequence;
                TrySave(); // the base must outlive a restart of the daemon, as a renumbering's does
            }
        }

        if (_renumberingExpected && _reorder is { } reorder && frame.Sequence >= 0
            && frame.Sequence + _state.SequenceBase < reorder.NextSequence - _options.ReorderWindow)
        {
            _state.SequenceBase = reorder.Highest + 1; // the new numbering's 0 comes right after the last frame received
            _state.SequenceRestarts++;
            _renumberingExpected = false;
            TrySave(); // the base must outlive a restart of the daemon; if it cannot be saved now, the next save keeps it
        }

        return frame with { Sequence = frame.Sequence + _state.SequenceBase };
    }

    /// <summary>
    /// The client's last frame on the meeting's timeline, when the stop named one that can be placed: the frames after
    /// the last one received up to it never arrived. Null when there is none, when the device's numbering is not known
    /// (no frame of it accepted, or a reboot's new numbering not seen yet), or when the number is more than the meeting
    /// could have sent since it started (one frame per 2.5 ms, Opus's shortest, plus the reorder window), which a stop
    /// may not claim.
    /// </summary>
    private long? TrailingEnd(long? lastSequence)
    {
        if (lastSequence is not (>= 0 and var last) || _renumberingExpected || (_state.Accepted == 0 && _state.SequenceRestarts == 0))
        {
            return null;
        }

        var possible = (long)((_time.GetUtcNow() - _state.CreatedAt).TotalMilliseconds / ShortestFrameMilliseconds) + _options.ReorderWindow;
        return last <= possible - _state.SequenceBase ? last + _state.SequenceBase : null;
    }

    /// <summary>How long since the device last sent a frame or a start (since the daemon started, if it did not since).</summary>
    public TimeSpan Silence
    {
        get
        {
            lock (_sync)
            {
                return _time.GetElapsedTime(_lastHeard);
            }
        }
    }

    /// <summary>The message of the last write that failed (a full disk, an I/O error), or null when none has.</summary>
    public string? LastStorageError { get; private set; }

    /// <summary>What a command answers when its write failed: <see cref="MeetingResult.StorageFull"/> when the disk was full, else <see cref="MeetingResult.StorageError"/>.</summary>
    public MeetingResult StorageFailure { get; private set; } = MeetingResult.StorageError;

    private void NoteStorageFailure(IOException failure)
    {
        LastStorageError = failure.Message;
        StorageFailure = DiskFull.Is(failure) ? MeetingResult.StorageFull : MeetingResult.StorageError;
    }

    /// <summary>Stops the session; <paramref name="lastSequence"/> (the device's numbering) makes the frames after the last one received up to it a gap.</summary>
    public StopOutcome Stop(long? lastSequence)
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return new StopOutcome(MeetingResult.UnknownSession, []);
            }

            switch (_state.State)
            {
                case MeetingState.Aborted:
                    return new StopOutcome(MeetingResult.InvalidState, []);
                case MeetingState.Stopping or MeetingState.Completed:
                    var retried = TrySaveUnsaved();
                    return new StopOutcome(retried ? MeetingResult.AlreadyDone : StorageFailure, CurrentGaps());
            }

            // The stop is made on a copy of the reorder buffer and kept only once it is on disk.
            var open = (_reorder!, _state.ReleasedThrough);
            _reorder = open.Item1.Copy();
            _reorder.Flush(TrailingEnd(lastSequence));
            _state.State = MeetingState.Stopping;
            _state.StoppedAt = _time.GetUtcNow();
            _state.ReleasedThrough = _reorder.NextSequence - 1;
            if (!TrySave())
            {
                // One outcome that the disk and the messages agree on: the stop is not made while it cannot be
                // recorded, so the meeting stays open (and its audio is kept) until a stop can be written.
                (_reorder, _state.ReleasedThrough) = open;
                _state.Gaps = [.. _reorder.Gaps];
                _state.State = MeetingState.Open;
                _state.StoppedAt = null;
                return new StopOutcome(StorageFailure, CurrentGaps());
            }

            return new StopOutcome(MeetingResult.Ok, CurrentGaps());
        }
    }

    public MeetingResult Abort()
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return MeetingResult.UnknownSession;
            }

            switch (_state.State)
            {
                case MeetingState.Completed:
                    return MeetingResult.InvalidState;
                case MeetingState.Aborted:
                    return TrySaveUnsaved() ? MeetingResult.AlreadyDone : StorageFailure;
            }

            _state.State = MeetingState.Aborted;
            _state.EndedAt = _time.GetUtcNow();
            CloseJournals();
            return TrySave() ? MeetingResult.Ok : StorageFailure;
        }
    }

    public MeetingResult Complete(ReadOnlySpan<byte> summaryJson)
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return MeetingResult.UnknownSession;
            }

            if (_state.State != MeetingState.Stopping)
            {
                return MeetingResult.InvalidState;
            }

            try
            {
                AtomicFile.Write(Path.Combine(Directory, SummaryFileName), summaryJson);
            }
            catch (IOException e)
            {
                NoteStorageFailure(e);
                return StorageFailure;
            }

            _state.State = MeetingState.Completed;
            _state.EndedAt = _time.GetUtcNow();
            CloseJournals();
            return TrySave() ? MeetingResult.Ok : StorageFailure;
        }
    }

    public MeetingResult AppendTranscript(TranscriptSegment segment)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(segment, ContractJsonContext.Default.TranscriptSegment);
        if (body.Length > MaxTranscriptRecordBytes)
        {
            return MeetingResult.InvalidArgument;
        }

        lock (_sync)
        {
            if (_deleted)
            {
                return MeetingResult.UnknownSession;
            }

            if (_transcript is null)
            {
                return MeetingResult.InvalidState;
            }

            try
            {
                _transcript.Append(body);
                return MeetingResult.Ok;
            }
            catch (IOException e)
            {
                NoteStorageFailure(e);
                return StorageFailure;
            }
        }
    }

    /// <summary>The latest revision of each segment, ordered by start time; null when the session is deleted.</summary>
    public IReadOnlyList<TranscriptSegment>? ReadTranscript()
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return null;
            }

            var latest = new Dictionary<string, (TranscriptSegment Segment, int Order)>(StringComparer.Ordinal);
            foreach (var body in RecordJournal.ReadAll(Path.Combine(Directory, TranscriptFileName), TranscriptMagic, MaxTranscriptRecordBytes))
            {
                var segment = JsonSerializer.Deserialize(body.Span, ContractJsonContext.Default.TranscriptSegment);
                if (segment is null)
                {
                    continue;
                }

                if (!latest.TryGetValue(segment.SegmentId, out var known))
                {
                    latest[segment.SegmentId] = (segment, latest.Count);
                }
                else if (segment.Revision >= known.Segment.Revision)
                {
                    latest[segment.SegmentId] = (segment, known.Order);
                }
            }

            return [.. latest.Values.OrderBy(v => v.Segment.Start).ThenBy(v => v.Order).Select(v => v.Segment)];
        }
    }

    /// <summary>The stored summary JSON, or null when there is none (yet) or the session is deleted.</summary>
    public byte[]? ReadSummary()
    {
        lock (_sync)
        {
            var path = Path.Combine(Directory, SummaryFileName);
            return _deleted || !File.Exists(path) ? null : File.ReadAllBytes(path);
        }
    }

    /// <summary>The accepted frames in the order they were accepted, read lazily from the journal.</summary>
    public IEnumerable<AudioFrame> ReadAudio() =>
        RecordJournal.ReadAll(AudioPath, AudioMagic, MaxAudioRecordBytes)
            .Select(body => TryDecodeAudio(body, out var frame) ? frame : (AudioFrame?)null)
            .TakeWhile(frame => frame is not null)
            .Select(frame => frame!.Value);

    /// <summary>A reader of the released frames, in sequence order, that follows the journal as frames are accepted.</summary>
    public ReleasedAudioReader OpenReleasedAudio() =>
        new(this, new JournalTail(AudioPath, AudioMagic, MaxAudioRecordBytes), _options.ReorderWindow);

    internal static bool TryDecodeAudioRecord(ReadOnlyMemory<byte> body, out AudioFrame frame) => TryDecodeAudio(body, out frame);

    private string AudioPath => Path.Combine(Directory, AudioFileName);

    private int MaxAudioRecordBytes => AudioHeaderBytes + 255 + _options.MaxFrameBytes;

    public MeetingInfo Snapshot()
    {
        lock (_sync)
        {
            var counters = new MeetingCounters(_state.Accepted, _state.Duplicates, _state.Late, _state.AfterStop, _state.CodecMismatches, _state.InvalidPayloads, _state.StorageRefused, _state.SequenceRestarts);
            return new MeetingInfo(Id, _state.Parameters, _state.State, _state.CreatedAt, _state.StoppedAt, _state.EndedAt, counters, CurrentGaps(), _state.ReleasedThrough, Math.Round(_state.TranscribedThrough.TotalSeconds, 3));
        }
    }

    /// <summary>
    /// Closes the files and removes the folder: first renamed to <paramref name="trashDirectory"/> (so a crash
    /// mid-delete leaves no half session), then deleted. False when already deleted. Throws <see cref="IOException"/>.
    /// </summary>
    public bool Delete(string trashDirectory)
    {
        lock (_sync)
        {
            if (_deleted)
            {
                return false;
            }

            CloseJournals();
            System.IO.Directory.Move(Directory, trashDirectory);
            _deleted = true;
            System.IO.Directory.Delete(trashDirectory, recursive: true);
            return true;
        }
    }

    public void Dispose()
    {
        lock (_sync)
        {
            CloseJournals();
        }
    }

    internal static void TryDeleteDirectory(string directory)
    {
        try
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // Left for the next start's scan to report.
        }
    }

    private void OpenJournals(out JournalRecovery audioRecovery, out JournalRecovery transcriptRecovery)
    {
        var reorder = new ReorderBuffer(_options.ReorderWindow);
        _audio = RecordJournal.Open(
            AudioPath,
            AudioMagic,
            MaxAudioRecordBytes,
            body =>
            {
                if (!TryDecodeAudio(body, out var frame))
                {
                    return false;
                }

                if (reorder.Classify(frame.Sequence) == SequenceStatus.New)
                {
                    reorder.Add(frame.Sequence);
                }

                return true;
            },
            out audioRecovery);
        _reorder = reorder;
        _transcript = RecordJournal.Open(Path.Combine(Directory, TranscriptFileName), TranscriptMagic, MaxTranscriptRecordBytes, _ => true, out transcriptRecovery);
    }

    private void AppendAudio(in AudioFrame frame)
    {
        var codec = Encoding.ASCII.GetBytes(frame.Codec);
        var size = AudioHeaderBytes + codec.Length + frame.Payload.Length;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var span = buffer.AsSpan(0, size);
            BinaryPrimitives.WriteInt64LittleEndian(span, frame.Sequence);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], frame.TimestampMicroseconds);
            span[16] = (byte)codec.Length;
            codec.CopyTo(span[AudioHeaderBytes..]);
            frame.Payload.Span.CopyTo(span[(AudioHeaderBytes + codec.Length)..]);
            _audio!.Write(span);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool TryDecodeAudio(ReadOnlyMemory<byte> body, out AudioFrame frame)
    {
        frame = default;
        var span = body.Span;
        if (span.Length < AudioHeaderBytes || span.Length < AudioHeaderBytes + span[16])
        {
            return false;
        }

        var sequence = BinaryPrimitives.ReadInt64LittleEndian(span);
        if (sequence < 0)
        {
            return false;
        }

        var codecLength = span[16];
        var codec = Encoding.ASCII.GetString(span.Slice(AudioHeaderBytes, codecLength));
        frame = new AudioFrame(sequence, codec, BinaryPrimitives.ReadInt64LittleEndian(span[8..]), body[(AudioHeaderBytes + codecLength)..]);
        return true;
    }

    private List<SequenceGap> CurrentGaps() => _reorder is null ? [.. _state.Gaps] : [.. _reorder.Gaps];

    private void CloseJournals()
    {
        _audio?.Dispose();
        _audio = null;
        _transcript?.Dispose();
        _transcript = null;
    }

    private bool TrySaveUnsaved() => !_stateUnsaved || TrySave();

    private bool TrySave()
    {
        try
        {
            SaveState();
            _stateUnsaved = false;
            return true;
        }
        catch (IOException e)
        {
            NoteStorageFailure(e);
            _stateUnsaved = true;
            return false;
        }
    }

    private void SaveState()
    {
        if (_reorder is not null)
        {
            _state.Gaps = [.. _reorder.Gaps];
        }

        SessionStateFile.Save(Directory, _state);
    }
}
