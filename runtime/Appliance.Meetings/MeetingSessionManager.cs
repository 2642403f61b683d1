using System.Collections.Concurrent;
using System.Text.Json;

namespace Appliance.Meetings;

/// <summary>
/// Durable meeting sessions under one root folder: one sub-folder per session with an append-only audio journal,
/// an append-only transcript journal, an atomically replaced state file and, at the end, the summary.
/// </summary>
/// <remarks>
/// <para>Threading: every member is safe to call from any thread. Each session has its own lock, held across that
/// session's disk writes only; there is no lock shared between sessions. For one session, concurrent
/// <see cref="AcceptFrames"/> calls are safe; the order of acceptance decides the reorder buffer's choices, and
/// <see cref="OpenReleasedAudio"/> reads the frames back in the order it released them.</para>
/// <para>Expected failures (unknown session, bad parameters, a full disk) come back as result codes; methods
/// throw only <see cref="ArgumentNullException"/> for null arguments and <see cref="ObjectDisposedException"/>
/// after <see cref="Dispose"/>.</para>
/// <para>Ownership: the manager owns the files and the open journal handles; dispose it at shutdown.</para>
/// </remarks>
public sealed class MeetingSessionManager : IDisposable
{
    private const string TrashPrefix = ".deleted-";
    private readonly ConcurrentDictionary<string, SessionSlot> _sessions = new(StringComparer.Ordinal);
    private readonly MeetingStoreOptions _options;
    private readonly TimeProvider _time;
    private const string LockFileName = ".lock";
    private volatile bool _disposed;
    private int _storageFailing;
    private readonly FileStream? _lock;
    private readonly Lock _admission = new(); // one new session at a time, so no two starts both take the last place

    /// <summary>
    /// Opens the store: creates the root folder when missing, checks that it can be written, finishes interrupted
    /// deletions, loads every session, and resumes open and stopping ones (their journals are cut at the first torn or
    /// corrupt record). What was found is in <see cref="Recovery"/>. A root that cannot be created, listed or written
    /// (a read-only file system, missing permissions) does not throw: the store opens without sessions, says why in
    /// <see cref="StorageProblem"/>, and refuses every start with <see cref="MeetingResult.StorageError"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="IOException">Another process (a second daemon) holds the root folder's lock: two stores on one
    /// folder would corrupt each other's journals.</exception>
    public MeetingSessionManager(MeetingStoreOptions options, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        options.Validate();
        _options = options;
        _time = timeProvider;
        var resumed = new List<ResumedSession>();
        var skipped = new List<string>();
        var repaired = new List<string>();
        StorageProblem = WritableRootProblem(options.RootDirectory);
        if (StorageProblem is not null)
        {
            Recovery = new MeetingRecoveryReport(resumed, skipped, repaired);
            return;
        }

        _lock = LockRoot(options.RootDirectory);

        foreach (var directory in Directory.GetDirectories(options.RootDirectory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(directory);
            if (name.StartsWith(TrashPrefix, StringComparison.Ordinal))
            {
                MeetingSession.TryDeleteDirectory(directory);
                continue;
            }

            if (!Identifiers.IsValidSessionId(name))
            {
                skipped.Add($"{name}: not a session id");
                continue;
            }

            try
            {
                var session = MeetingSession.Load(directory, options, timeProvider, out var resumedSession, out var stateRepair);
                _sessions[name] = new SessionSlot { Session = session };
                if (resumedSession is not null)
                {
                    resumed.Add(resumedSession);
                }

                if (stateRepair is not null)
                {
                    repaired.Add($"{name}: {stateRepair}");
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                skipped.Add($"{name}: {e.Message}");
            }
        }

        Recovery = new MeetingRecoveryReport(resumed, skipped, repaired);
    }

    /// <summary>What the constructor found: resumed sessions (with their accepted-frame counts and pending stops) and skipped folders.</summary>
    public MeetingRecoveryReport Recovery { get; }

    /// <summary>Why the root folder cannot hold meetings (read-only, missing permissions), or null when it can.</summary>
    public string? StorageProblem { get; }

    /// <summary>
    /// Raised when writing meetings starts failing (a full or failing disk), with why, and with null when it works
    /// again; on the thread that made the write. Handlers must be quick.
    /// </summary>
    public event Action<string?>? StorageChanged;

    /// <summary>
    /// Starts a session, or confirms it: a repeated start with equal parameters returns
    /// <see cref="MeetingResult.AlreadyDone"/> whatever the session's state; with different parameters
    /// <see cref="MeetingResult.ParametersConflict"/>. A new session beyond <see cref="MeetingStoreOptions.Capacity"/> open
    /// ones is <see cref="MeetingResult.Busy"/> (a repeated start never is). The folder and state file are on disk
    /// before it returns.
    /// </summary>
    public MeetingResult Start(string sessionId, MeetingParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Identifiers.IsValidSessionId(sessionId))
        {
            return MeetingResult.InvalidSessionId;
        }

        if (parameters.Problem() is not null)
        {
            return MeetingResult.InvalidArgument;
        }

        if (StorageProblem is not null)
        {
            return MeetingResult.StorageError;
        }

        while (true)
        {
            var slot = _sessions.GetOrAdd(sessionId, static _ => new SessionSlot());
            lock (slot.Sync)
            {
                if (slot.Removed)
                {
                    continue; // deleted, or a failed start, between the lookup and the lock
                }

                if (slot.Session is { } existing)
                {
                    if (!existing.Parameters.Equals(parameters))
                    {
                        return MeetingResult.ParametersConflict;
                    }

                    // The same start again: a lost reply retried, or a device that rebooted and will number from 0.
                    existing.ExpectRenumbering();
                    return MeetingResult.AlreadyDone;
                }

                if (Directory.Exists(SessionDirectory(sessionId)))
                {
                    // A folder the start-up scan could not read (kept for whoever looks into it), or, on a file system
                    // that ignores case, another meeting's: never written into, never removed.
                    return Refuse(sessionId, slot, MeetingResult.FolderTaken);
                }

                lock (_admission)
                {
                    if (OpenSessions() >= _options.Capacity)
                    {
                        return Refuse(sessionId, slot, MeetingResult.Busy);
                    }

                    if (_options.MinFreeBytes > 0 && DiskFull.FreeBytes(_options.RootDirectory) is { } free && free < _options.MinFreeBytes)
                    {
                        return Refuse(sessionId, slot, MeetingResult.StorageFull);
                    }

                    try
                    {
                        slot.Session = MeetingSession.Create(SessionDirectory(sessionId), sessionId, parameters, _options, _time);
                        return MeetingResult.Ok;
                    }
                    catch (IOException e) when (DiskFull.Is(e))
                    {
                        return Refuse(sessionId, slot, MeetingResult.StorageFull);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        return Refuse(sessionId, slot, MeetingResult.StorageError);
                    }
                }
            }
        }
    }

    /// <summary>Raises <see cref="StorageChanged"/> when writing goes from working to failing or back.</summary>
    private void NoteStorage(MeetingSession session, bool failed)
    {
        if (Interlocked.Exchange(ref _storageFailing, failed ? 1 : 0) != (failed ? 1 : 0))
        {
            StorageChanged?.Invoke(failed ? $"meetings cannot be written to {_options.RootDirectory}: {session.LastStorageError ?? "a write failed"}" : null);
        }
    }

    /// <summary>
    /// Takes the root folder's lock file (an exclusive lock the operating system drops with the process, so a crash
    /// leaves none behind) and writes this process's id into it, for the message a second daemon gets.
    /// </summary>
    private static FileStream LockRoot(string root)
    {
        var path = Path.Combine(root, LockFileName);
        try
        {
            var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            stream.SetLength(0);
            stream.Write(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            stream.Flush();
            return stream;
        }
        catch (IOException e)
        {
            var holder = File.Exists(path) ? TryReadHolder(path) : null;
            throw new IOException($"the meetings folder {root} is in use by another appliance daemon{(holder is null ? "" : $" (process {holder})")}: give each daemon its own Meetings:Root", e);
        }
    }

    private static string? TryReadHolder(string path)
    {
        try
        {
            using var reader = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var text = new StreamReader(reader);
            return text.ReadToEnd().Trim() is { Length: > 0 } pid ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Creates the root when missing and proves it can be written (a file made and removed); null when it can.</summary>
    private static string? WritableRootProblem(string root)
    {
        try
        {
            Directory.CreateDirectory(root);
            var probe = Path.Combine(root, $".write-probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, [1]);
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"the meetings folder {root} cannot be written: {e.Message}";
        }
    }

    /// <summary>Offers one frame; see <see cref="AcceptFrames"/>.</summary>
    public FrameResult AcceptFrame(string sessionId, AudioFrame frame)
    {
        var result = new FrameResult[1];
        AcceptFrames([new IncomingFrame(sessionId, frame)], result);
        return result[0];
    }

    /// <summary>
    /// Offers frames, of any sessions, as they came in. A frame is accepted only once it is in its session's journal
    /// and flushed to the disk; the frames of one session in one call share one flush (group commit), and the
    /// sessions are flushed side by side. <paramref name="results"/> gets one result per frame, in order. Accepted
    /// frames are read back, in sequence order, with <see cref="OpenReleasedAudio"/>.
    /// </summary>
    public void AcceptFrames(IReadOnlyList<IncomingFrame> frames, Span<FrameResult> results)
    {
        ArgumentNullException.ThrowIfNull(frames);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (results.Length < frames.Count)
        {
            throw new ArgumentException("one result per frame is needed", nameof(results));
        }

        var bySession = new Dictionary<string, (MeetingSession Session, List<int> Indices)>(StringComparer.Ordinal);
        for (var i = 0; i < frames.Count; i++)
        {
            if (!TryGet(frames[i].SessionId, out var session))
            {
                results[i] = FrameResult.UnknownSession;
                continue;
            }

            if (!bySession.TryGetValue(frames[i].SessionId, out var group))
            {
                group = (session, []);
                bySession[frames[i].SessionId] = group;
            }

            group.Indices.Add(i);
        }

        var groups = bySession.Values.ToArray();
        var groupResults = new FrameResult[groups.Length][];
        void AcceptGroup(int g)
        {
            var (session, indices) = groups[g];
            groupResults[g] = new FrameResult[indices.Count];
            session.Accept([.. indices.Select(i => frames[i].Frame)], groupResults[g]);
        }

        if (groups.Length == 1)
        {
            AcceptGroup(0);
        }
        else if (groups.Length > 1)
        {
            // The flushes wait on the disk, not the processor: several in flight let the file system merge them.
            Parallel.For(0, groups.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, AcceptGroup);
        }
        for (var g = 0; g < groups.Length; g++)
        {
            var refused = groupResults[g].Contains(FrameResult.StorageError);
            if (refused || groupResults[g].Contains(FrameResult.Accepted))
            {
                NoteStorage(groups[g].Session, refused);
            }

            for (var k = 0; k < groups[g].Indices.Count; k++)
            {
                results[groups[g].Indices[k]] = groupResults[g][k];
            }
        }
    }

    /// <summary>
    /// A reader of the session's accepted frames in sequence order (with the lost ones counted where they would have
    /// been), from the start of its journal, that follows the journal while the meeting goes on. Null for an unknown
    /// session. Throws <see cref="IOException"/> or <see cref="InvalidDataException"/> when the journal cannot be opened.
    /// </summary>
    public ReleasedAudioReader? OpenReleasedAudio(string sessionId) => TryGet(sessionId, out var session) ? session.OpenReleasedAudio() : null;

    /// <summary>
    /// How far the transcript of the session is made, exactly as <see cref="SetTranscribedThrough"/> recorded it (the
    /// transcriber resumes from it; <see cref="MeetingInfo.TranscribedSeconds"/> is rounded for people). Null for an
    /// unknown session.
    /// </summary>
    internal TimeSpan? TranscribedThrough(string sessionId) => TryGet(sessionId, out var session) ? session.TranscribedThrough : null;

    /// <summary>
    /// Records that the transcript is made up to <paramref name="through"/> of meeting audio, so a restart does not
    /// transcribe that part again. Persisted in the state file, with the drop counters.
    /// </summary>
    public MeetingResult SetTranscribedThrough(string sessionId, TimeSpan through)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return TryGet(sessionId, out var session) ? session.SetTranscribedThrough(through) : MeetingResult.UnknownSession;
    }

    /// <summary>
    /// Stops a session: no more frames are accepted, the reorder buffer is flushed (missing numbers become gaps, and
    /// so do those after the last frame received up to <paramref name="lastSequence"/>, the client's last frame) and
    /// the stop is persisted, so it is honoured after a restart. A repeated stop returns
    /// <see cref="MeetingResult.AlreadyDone"/> with the gaps.
    /// </summary>
    public StopOutcome Stop(string sessionId, long? lastSequence = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!TryGet(sessionId, out var session))
        {
            return new StopOutcome(NotFound(sessionId), []);
        }

        var outcome = session.Stop(lastSequence);
        NoteStorage(session, outcome.Result is MeetingResult.StorageError or MeetingResult.StorageFull);
        return outcome;
    }

    /// <summary>Aborts an open or stopping session: frames and transcript are refused from now on; the files stay until retention or <see cref="Delete"/>.</summary>
    public MeetingResult Abort(string sessionId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return TryGet(sessionId, out var session) ? session.Abort() : NotFound(sessionId);
    }

    /// <summary>
    /// Finishes a stopping session with its summary: the summary is checked against the published schema
    /// (<see cref="MeetingResult.InvalidArgument"/> when it does not match), written atomically, then the session
    /// is marked completed.
    /// </summary>
    public MeetingResult Complete(string sessionId, MeetingSummary summary)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!TryGet(sessionId, out var session))
        {
            return MeetingResult.UnknownSession;
        }

        var json = JsonSerializer.SerializeToUtf8Bytes(summary, ContractJsonContext.Default.MeetingSummary);
        if (MeetingSummarySchema.Validate(json).Count > 0)
        {
            return MeetingResult.InvalidArgument;
        }

        var result = session.Complete(json);
        NoteStorage(session, result is MeetingResult.StorageError or MeetingResult.StorageFull);
        return result;
    }

    /// <summary>Appends a transcript event (durable before it returns) to an open or stopping session.</summary>
    public MeetingResult AppendTranscript(string sessionId, TranscriptSegment segment)
    {
        ArgumentNullException.ThrowIfNull(segment);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (string.IsNullOrEmpty(segment.SegmentId) || segment.Revision < 0 || segment.End < segment.Start || segment.Start < 0 || segment.Text is null)
        {
            return MeetingResult.InvalidArgument;
        }

        return TryGet(sessionId, out var session) ? session.AppendTranscript(segment) : MeetingResult.UnknownSession;
    }

    /// <summary>Removes a session and all its files (audio, transcript, summary) from disk, whatever its state.</summary>
    public MeetingResult Delete(string sessionId)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Identifiers.IsValidSessionId(sessionId) || !_sessions.TryGetValue(sessionId, out var slot))
        {
            return NotFound(sessionId);
        }

        lock (slot.Sync)
        {
            if (slot.Removed || slot.Session is not { } session)
            {
                return MeetingResult.UnknownSession;
            }

            try
            {
                session.Delete(Path.Combine(_options.RootDirectory, $"{TrashPrefix}{sessionId}-{Guid.NewGuid():N}"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return MeetingResult.StorageError;
            }

            slot.Removed = true;
            _sessions.TryRemove(new KeyValuePair<string, SessionSlot>(sessionId, slot));
            return MeetingResult.Ok;
        }
    }

    /// <summary>Whether a session with this id exists (in any state); cheap enough for every received frame.</summary>
    /// <param name="sessionId">The session id; an invalid one is never contained.</param>
    public bool Contains(string sessionId) => TryGet(sessionId, out _);

    /// <summary>A snapshot of the session, or null when there is none.</summary>
    public MeetingInfo? Get(string sessionId) => TryGet(sessionId, out var session) ? session.Snapshot() : null;

    /// <summary>Snapshots of all sessions, ordered by creation time.</summary>
    public IReadOnlyList<MeetingInfo> List() =>
        [.. _sessions.Values.Select(s => s.Session).OfType<MeetingSession>().Select(s => s.Snapshot()).OrderBy(i => i.CreatedAt).ThenBy(i => i.SessionId, StringComparer.Ordinal)];

    /// <summary>The open sessions whose device has sent nothing (no frame, no start) for <paramref name="idle"/> or longer.</summary>
    public IReadOnlyList<string> SilentOpenSessions(TimeSpan idle) =>
        [.. _sessions.Values.Select(s => s.Session).OfType<MeetingSession>().Where(s => s.IsOpen && s.Silence >= idle).Select(s => s.Id)];

    /// <summary>How many sessions may take audio at once (<see cref="MeetingStoreOptions.Capacity"/>).</summary>
    public int Capacity => _options.Capacity;

    /// <summary>The free space a new session needs, in bytes (<see cref="MeetingStoreOptions.MinFreeBytes"/>).</summary>
    public long MinFreeBytes => _options.MinFreeBytes;

    /// <summary>The free space on the root folder's file system now, in bytes, or null when it cannot be read.</summary>
    public long? FreeBytes => DiskFull.FreeBytes(_options.RootDirectory);

    /// <summary>How many sessions take audio now (at most <see cref="MeetingStoreOptions.Capacity"/>).</summary>
    public int OpenSessions() => _sessions.Values.Count(s => s.Session is { IsOpen: true });

    /// <summary>The transcript (latest revision of each segment, by start time), or null when there is no such session.</summary>
    public IReadOnlyList<TranscriptSegment>? ReadTranscript(string sessionId) => TryGet(sessionId, out var session) ? session.ReadTranscript() : null;

    /// <summary>The stored summary, or null when the session is unknown or has none yet.</summary>
    public MeetingSummary? ReadSummary(string sessionId)
    {
        var json = TryGet(sessionId, out var session) ? session.ReadSummary() : null;
        return json is null ? null : JsonSerializer.Deserialize(json, ContractJsonContext.Default.MeetingSummary);
    }

    /// <summary>
    /// The accepted frames in acceptance order, read lazily from the journal (not sorted: use
    /// <see cref="MeetingInfo.ReleasedThrough"/> and the sequence numbers to resume a consumer). Enumerate it
    /// to the end or dispose the enumerator: it holds the file open meanwhile. Empty for an unknown session.
    /// </summary>
    public IEnumerable<AudioFrame> ReadJournaledAudio(string sessionId) => TryGet(sessionId, out var session) ? session.ReadAudio() : [];

    /// <summary>
    /// The fallback summary for a session: an extractive summary of its transcript, with its language and gaps.
    /// Null when the session is unknown.
    /// </summary>
    public MeetingSummary? CreateExtractiveSummary(string sessionId)
    {
        if (!TryGet(sessionId, out var session))
        {
            return null;
        }

        var info = session.Snapshot();
        var transcript = session.ReadTranscript() ?? [];
        return ExtractiveSummarizer.Summarize(transcript, info.Parameters, info.Gaps);
    }

    /// <summary>
    /// Deletes completed and aborted sessions that ended longer ago than <see cref="MeetingStoreOptions.Retention"/>.
    /// Call it periodically. Returns the ids deleted; a session whose folder cannot be removed is kept and tried again next time.
    /// </summary>
    public IReadOnlyList<string> DeleteExpired()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var now = _time.GetUtcNow();
        var deleted = new List<string>();
        foreach (var (id, slot) in _sessions)
        {
            if (slot.Session is { } session && session.IsExpired(now, _options.Retention) && Delete(id) == MeetingResult.Ok)
            {
                deleted.Add(id);
            }
        }

        return deleted;
    }

    /// <summary>Closes every journal. Later calls throw <see cref="ObjectDisposedException"/>; the files stay for the next manager.</summary>
    public void Dispose()
    {
        _disposed = true;
        foreach (var slot in _sessions.Values)
        {
            slot.Session?.Dispose();
        }

        _lock?.Dispose();
    }

    /// <summary>
    /// Why a session id names no session: <see cref="MeetingResult.InvalidSessionId"/> when it could never name one (the
    /// same answer <see cref="Start"/> gives it), <see cref="MeetingResult.UnknownSession"/> otherwise.
    /// </summary>
    public static MeetingResult NotFound(string? sessionId) =>
        Identifiers.IsValidSessionId(sessionId) ? MeetingResult.UnknownSession : MeetingResult.InvalidSessionId;

    /// <summary>Gives up the slot a start made and could not fill (called under its lock), so that a later start makes a new one.</summary>
    private MeetingResult Refuse(string sessionId, SessionSlot slot, MeetingResult result)
    {
        slot.Removed = true;
        _sessions.TryRemove(new KeyValuePair<string, SessionSlot>(sessionId, slot));
        return result;
    }

    private string SessionDirectory(string sessionId) => Path.Combine(_options.RootDirectory, sessionId);

    private bool TryGet(string sessionId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out MeetingSession? session)
    {
        session = null;
        // Only valid ids are ever added (recovery and Start check them), so a lookup is check enough.
        if (sessionId is not null && _sessions.TryGetValue(sessionId, out var slot))
        {
            session = slot.Session;
        }

        return session is not null;
    }

    /// <summary>The dictionary entry of one session id; its lock serialises start and delete of that id only.</summary>
    private sealed class SessionSlot
    {
        public Lock Sync { get; } = new();

        private volatile MeetingSession? _session;

        /// <summary>Set under <see cref="Sync"/>; read without it.</summary>
        public MeetingSession? Session
        {
            get => _session;
            set => _session = value;
        }

        public bool Removed { get; set; }
    }
}
