using Appliance.Meetings;

namespace Appliance.Meetings.Tests;

public sealed class SessionManagerTests : IDisposable
{
    private readonly TestStore _store = new(reorderWindow: 8);

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Frames_out_of_order_within_the_window_are_released_in_order()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        using var reader = manager.OpenReleasedAudio("m1")!;
        var released = new List<long>();
        foreach (var seq in new long[] { 1, 3, 0, 2, 5, 4, 6 })
        {
            Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
            released.AddRange(TestStore.Drain(reader, out var status));
            Assert.Equal(ReleasedAudioStatus.Waiting, status);
        }

        Assert.Equal([0L, 1, 2, 3, 4, 5, 6], released);
        Assert.Empty(manager.Stop("m1").Gaps);
        Assert.Empty(TestStore.Drain(reader, out var end));
        Assert.Equal(ReleasedAudioStatus.Ended, end);
    }

    [Fact]
    public void A_frame_that_never_comes_is_recorded_as_a_gap_when_the_window_overflows()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        using var reader = manager.OpenReleasedAudio("m1")!;
        var released = new List<long>();
        foreach (var seq in Enumerable.Range(0, 20).Where(s => s is not (3 or 4)))
        {
            Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
            released.AddRange(TestStore.Drain(reader, out _));
        }

        // Frames 11 and 12 pushed 3 and 4 out of the 8-frame window; the reader hands out 5 with both counted lost.
        Assert.Equal([new SequenceGap(3, 2)], manager.Get("m1")!.Gaps);
        Assert.Equal(FrameResult.Late, manager.AcceptFrame("m1", TestStore.Frame(3)));
        Assert.Equal(FrameResult.Duplicate, manager.AcceptFrame("m1", TestStore.Frame(2)));
        var stop = manager.Stop("m1");
        released.AddRange(TestStore.Drain(reader, out var end));
        Assert.Equal(ReleasedAudioStatus.Ended, end);
        Assert.Equal(new long[] { 0, 1, 2, -2 }.Concat(Enumerable.Range(5, 15).Select(s => (long)s)), released);
        Assert.Equal([new SequenceGap(3, 2)], stop.Gaps);
        var info = manager.Get("m1")!;
        Assert.Equal((18L, 1L, 1L), (info.Counters.Accepted, info.Counters.Late, info.Counters.Duplicates));
    }

    [Fact]
    public void Stop_skips_missing_frames_still_inside_the_window()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        manager.AcceptFrame("m1", TestStore.Frame(0));
        manager.AcceptFrame("m1", TestStore.Frame(4));
        using var reader = manager.OpenReleasedAudio("m1")!;
        Assert.Equal([0L], TestStore.Drain(reader, out _));
        var stop = manager.Stop("m1");
        Assert.Equal([-3L, 4], TestStore.Drain(reader, out var end));
        Assert.Equal(ReleasedAudioStatus.Ended, end);
        Assert.Equal([new SequenceGap(1, 3)], stop.Gaps);
        Assert.Equal(MeetingResult.AlreadyDone, manager.Stop("m1").Result);
    }

    /// <summary>
    /// The frames a client sent last and that never arrived (the broker or the link lost them) are a gap too: the stop's
    /// <c>lastSequence</c> says how many there were, after a restart of the daemon as well. A stop before any frame of
    /// the device's numbering arrived cannot place them and reports none, and one that claims more frames than the
    /// meeting could have sent is not believed.
    /// </summary>
    [Fact]
    public void Frames_after_the_last_received_up_to_the_stops_last_sequence_are_a_gap_after_a_restart_too()
    {
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            manager.AcceptFrame("m1", TestStore.Frame(0));
            manager.AcceptFrame("m1", TestStore.Frame(2));
            using var reader = manager.OpenReleasedAudio("m1")!;
            var stop = manager.Stop("m1", lastSequence: 6);
            Assert.Equal([0L, -1, 2], TestStore.Drain(reader, out var end));
            Assert.Equal(ReleasedAudioStatus.Ended, end);
            Assert.Equal([new SequenceGap(1, 1), new SequenceGap(3, 4)], stop.Gaps);
            Assert.Equal(6, manager.Get("m1")!.ReleasedThrough);

            manager.Start("empty", TestStore.Opus);
            Assert.Empty(manager.Stop("empty", lastSequence: 5).Gaps);

            // No meeting sends faster than one frame per 2.5 ms: a last number beyond that is not placed.
            manager.Start("claims-too-much", TestStore.Opus);
            manager.AcceptFrame("claims-too-much", TestStore.Frame(0));
            _store.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal([new SequenceGap(1, 400 + 8)], manager.Stop("claims-too-much", lastSequence: 400 + 8).Gaps);
            manager.Start("claims-far-too-much", TestStore.Opus);
            manager.AcceptFrame("claims-far-too-much", TestStore.Frame(0));
            _store.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.Empty(manager.Stop("claims-far-too-much", lastSequence: 1_000_000_000_000).Gaps);
        }

        using var reopened = _store.Open();
        Assert.Equal([new SequenceGap(1, 1), new SequenceGap(3, 4)], reopened.Get("m1")!.Gaps);
        Assert.Equal([new SequenceGap(1, 1), new SequenceGap(3, 4)], reopened.Stop("m1", lastSequence: 6).Gaps);
    }

    /// <summary>A new session needs the configured free space; a session already open is not refused for it.</summary>
    [Fact]
    public void A_start_below_the_free_space_a_meeting_needs_is_storage_full_and_leaves_nothing_on_disk()
    {
        using (var roomy = _store.Open())
        {
            Assert.Equal(MeetingResult.Ok, roomy.Start("open", TestStore.Opus));
        }

        using var manager = new MeetingSessionManager(new MeetingStoreOptions { RootDirectory = _store.Root, MinFreeBytes = long.MaxValue }, _store.Time);
        Assert.Equal(MeetingResult.StorageFull, manager.Start("m1", TestStore.Opus));
        Assert.False(Directory.Exists(Path.Combine(_store.Root, "m1")));
        Assert.Null(manager.Get("m1"));
        Assert.Equal(MeetingResult.AlreadyDone, manager.Start("open", TestStore.Opus));
        Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("open", TestStore.Frame(0)));
    }

    [Fact]
    public void Bad_input_is_refused_with_a_result_code_and_leaves_other_sessions_alone()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        manager.Start("m2", TestStore.Opus);
        Assert.Equal(FrameResult.UnknownSession, manager.AcceptFrame("nobody", TestStore.Frame(0)));
        Assert.Equal(FrameResult.UnknownSession, manager.AcceptFrame("../etc", TestStore.Frame(0)));
        Assert.Equal(FrameResult.InvalidPayload, manager.AcceptFrame("m1", TestStore.Frame(0, size: 1025)));
        Assert.Equal(FrameResult.CodecMismatch, manager.AcceptFrame("m1", TestStore.Frame(0, codec: "pcm_s16le")));
        Assert.Equal(FrameResult.InvalidSequence, manager.AcceptFrame("m1", TestStore.Frame(-1)));
        Assert.Equal(MeetingResult.ParametersConflict, manager.Start("m1", TestStore.Opus with { SampleRate = 48_000 }));
        Assert.Equal(MeetingResult.AlreadyDone, manager.Start("m1", TestStore.Opus with { Participants = ["Maria", "Tom"] }));
        Assert.Equal(MeetingResult.InvalidArgument, manager.Start("m3", TestStore.Opus with { Channels = 0 }));
        Assert.Equal(MeetingResult.InvalidSessionId, manager.Start("../m3", TestStore.Opus));
        Assert.Equal(MeetingResult.InvalidSessionId, manager.Stop("../m3").Result);
        Assert.Equal(MeetingResult.InvalidSessionId, manager.Abort("a/b"));
        Assert.Equal(MeetingResult.InvalidSessionId, manager.Delete("+"));
        Assert.Equal(MeetingResult.UnknownSession, manager.Stop("m3").Result);
        Assert.Equal(MeetingResult.Ok, manager.Stop("m1").Result);
        Assert.Equal(FrameResult.SessionNotOpen, manager.AcceptFrame("m1", TestStore.Frame(0)));

        Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m2", TestStore.Frame(0)));
        var m1 = manager.Get("m1")!.Counters;
        Assert.Equal((0L, 1L, 1L, 1L), (m1.Accepted, m1.InvalidPayloads, m1.CodecMismatches, m1.AfterStop));
        Assert.Equal(1, manager.Get("m2")!.Counters.Accepted);
    }

    /// <summary>
    /// A folder the start-up scan could not read (a damaged state file) is kept for whoever looks into it: a start with
    /// its name is refused, and nothing in the folder is written, replayed or removed.
    /// </summary>
    [Fact]
    public void A_folder_that_holds_no_readable_meeting_is_never_taken_over_by_a_start()
    {
        var damaged = Path.Combine(_store.Root, "m1");
        Directory.CreateDirectory(damaged);
        File.WriteAllText(Path.Combine(damaged, "state.json"), "{ not json");
        File.WriteAllBytes(Path.Combine(damaged, "audio.journal"), [1, 2, 3]);

        using var manager = _store.Open();
        Assert.Contains(manager.Recovery.Skipped, s => s.StartsWith("m1:", StringComparison.Ordinal));
        Assert.Equal(MeetingResult.FolderTaken, manager.Start("m1", TestStore.Opus));
        Assert.Equal(MeetingResult.FolderTaken, manager.Start("m1", TestStore.Opus));
        Assert.Null(manager.Get("m1"));
        Assert.Equal("{ not json", File.ReadAllText(Path.Combine(damaged, "state.json")));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(Path.Combine(damaged, "audio.journal")));
        Assert.Equal(MeetingResult.Ok, manager.Start("m2", TestStore.Opus));
    }

    /// <summary>
    /// Admission: no more sessions take audio at once than the store's capacity. A start beyond it is busy and leaves
    /// nothing on disk; a repeated start of an open session is never busy; a stop frees a place. Twenty starts at once
    /// on a capacity of five admit exactly five.
    /// </summary>
    [Fact]
    public async Task No_more_sessions_take_audio_at_once_than_the_capacity()
    {
        var root = Path.Combine(_store.Root, "admission");
        using (var manager = new MeetingSessionManager(new MeetingStoreOptions { RootDirectory = root, Capacity = 2 }, _store.Time))
        {
            Assert.Equal(MeetingResult.Ok, manager.Start("a", TestStore.Opus));
            Assert.Equal(MeetingResult.Ok, manager.Start("b", TestStore.Opus));
            Assert.Equal(MeetingResult.Busy, manager.Start("c", TestStore.Opus));
            Assert.False(Directory.Exists(Path.Combine(root, "c")));
            Assert.Equal(MeetingResult.AlreadyDone, manager.Start("a", TestStore.Opus));
            Assert.Equal(MeetingResult.Ok, manager.Stop("a").Result);
            Assert.Equal(MeetingResult.Ok, manager.Start("c", TestStore.Opus));
            Assert.Equal(2, manager.OpenSessions());
        }

        using var crowded = new MeetingSessionManager(new MeetingStoreOptions { RootDirectory = Path.Combine(_store.Root, "crowded"), Capacity = 5 }, _store.Time);
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() => crowded.Start($"m{i}", TestStore.Opus))));
        Assert.Equal(5, results.Count(r => r == MeetingResult.Ok));
        Assert.Equal(15, results.Count(r => r == MeetingResult.Busy));
        Assert.Equal(5, crowded.OpenSessions());
    }

    [Fact]
    public void Delete_removes_audio_transcript_and_summary()
    {
        using var manager = _store.Open();
        manager.Start("m1", TestStore.Opus);
        manager.AcceptFrame("m1", TestStore.Frame(0));
        manager.AppendTranscript("m1", new TranscriptSegment("s1", 0, 0, 1, "Maria will send the budget by Friday.", "en"));
        manager.Stop("m1");
        Assert.Equal(MeetingResult.Ok, manager.Complete("m1", manager.CreateExtractiveSummary("m1")!));
        Assert.True(File.Exists(Path.Combine(_store.Root, "m1", "summary.json")));

        Assert.Equal(MeetingResult.Ok, manager.Delete("m1"));
        Assert.Equal([".lock"], Directory.GetFileSystemEntries(_store.Root).Select(Path.GetFileName)); // the store's own lock is all that is left
        Assert.Null(manager.Get("m1"));
        Assert.Equal(MeetingResult.UnknownSession, manager.Delete("m1"));
        Assert.Equal(FrameResult.UnknownSession, manager.AcceptFrame("m1", TestStore.Frame(1)));
        Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));
    }

    [Fact]
    public void Retention_deletes_only_completed_and_aborted_sessions_older_than_the_limit()
    {
        using var manager = _store.Open();
        foreach (var id in new[] { "old-completed", "old-aborted", "old-open", "new-completed" })
        {
            manager.Start(id, TestStore.Opus);
        }

        manager.Stop("old-completed");
        manager.Complete("old-completed", manager.CreateExtractiveSummary("old-completed")!);
        manager.Abort("old-aborted");
        _store.Time.Advance(TimeSpan.FromDays(6));
        manager.Stop("new-completed");
        manager.Complete("new-completed", manager.CreateExtractiveSummary("new-completed")!);

        Assert.Empty(manager.DeleteExpired());
        _store.Time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(["old-aborted", "old-completed"], manager.DeleteExpired().Order(StringComparer.Ordinal));
        Assert.Equal(["new-completed", "old-open"], manager.List().Select(i => i.SessionId).Order(StringComparer.Ordinal));
        Assert.Equal(["new-completed", "old-open"], Directory.GetDirectories(_store.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Twenty_concurrent_sessions_lose_no_accepted_frame()
    {
        const int sessions = 20;
        const int frames = 40;
        using (var manager = _store.Open())
        {
            var tasks = Enumerable.Range(0, sessions).Select(n => Task.Run(() =>
            {
                var id = $"s{n}";
                Assert.Equal(MeetingResult.Ok, manager.Start(id, TestStore.Opus));
                using var reader = manager.OpenReleasedAudio(id)!;
                var released = new List<long>();

                // Swap neighbours and send every fifth frame twice: reordered and duplicated, nothing lost.
                foreach (var seq in Enumerable.Range(0, frames).Select(i => i % 2 == 0 ? i + 1 : i - 1))
                {
                    Assert.Equal(FrameResult.Accepted, manager.AcceptFrame(id, TestStore.Frame(seq)));
                    released.AddRange(TestStore.Drain(reader, out _));
                    if (seq % 5 == 0)
                    {
                        Assert.Equal(FrameResult.Duplicate, manager.AcceptFrame(id, TestStore.Frame(seq)));
                    }
                }

                var stop = manager.Stop(id);
                released.AddRange(TestStore.Drain(reader, out _));
                Assert.Equal(Enumerable.Range(0, frames).Select(i => (long)i), released);
                Assert.Empty(stop.Gaps);
            }));
            await Task.WhenAll(tasks);
        }

        using var reopened = _store.Open();
        Assert.Equal(sessions, reopened.Recovery.Resumed.Count);
        Assert.All(reopened.Recovery.Resumed, r => Assert.Equal((frames, true), (r.AcceptedFrames, r.StopPending)));
        Assert.All(reopened.List(), i => Assert.Equal(
            Enumerable.Range(0, frames).Select(n => (long)n),
            reopened.ReadJournaledAudio(i.SessionId).Select(f => f.Sequence).Order()));
    }
}
