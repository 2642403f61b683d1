using Appliance.Meetings;

namespace Appliance.Meetings.Tests;

public sealed class JournalTests : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Accepted_frames_round_trip_through_the_journal_across_a_restart()
    {
        using (var manager = _store.Open())
        {
            Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));
            for (var seq = 0; seq < 10; seq++)
            {
                Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
            }
        }

        using var reopened = _store.Open();
        var resumed = Assert.Single(reopened.Recovery.Resumed);
        Assert.Equal(("m1", 10L, false, JournalDamage.None), (resumed.SessionId, resumed.AcceptedFrames, resumed.StopPending, resumed.AudioRecovery.Damage));
        var frames = reopened.ReadJournaledAudio("m1").ToList();
        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i), frames.Select(f => f.Sequence));
        for (var seq = 0; seq < 10; seq++)
        {
            var expected = TestStore.Frame(seq);
            Assert.Equal(expected.Payload.ToArray(), frames[seq].Payload.ToArray());
            Assert.Equal(("opus", expected.TimestampMicroseconds), (frames[seq].Codec, frames[seq].TimestampMicroseconds));
        }
    }

    [Theory]
    [InlineData(1)]   // only part of the length prefix made it
    [InlineData(30)]  // cut inside the body
    [InlineData(73)]  // cut inside the checksum
    public void A_torn_tail_keeps_every_complete_record_and_is_cut(int bytesOfLastRecord)
    {
        WriteFrames("m1", 6);
        var path = _store.AudioJournal("m1");
        var recordSize = (new FileInfo(path).Length - 8) / 6;
        using (var file = new FileStream(path, FileMode.Open))
        {
            file.SetLength(8 + (recordSize * 5) + Math.Min(bytesOfLastRecord, recordSize - 1));
        }

        using var manager = _store.Open();
        var resumed = Assert.Single(manager.Recovery.Resumed);
        Assert.Equal(5, resumed.AcceptedFrames);
        Assert.Equal(JournalDamage.TornTail, resumed.AudioRecovery.Damage);
        Assert.Equal(Math.Min(bytesOfLastRecord, recordSize - 1), resumed.AudioRecovery.BytesTruncated);
        Assert.Equal(8 + (recordSize * 5), new FileInfo(path).Length);

        // The cut journal takes the lost frame again, and appends after the kept records.
        Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(5)));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => (long)i), manager.ReadJournaledAudio("m1").Select(f => f.Sequence));
    }

    [Fact]
    public void A_corrupt_checksum_stops_the_scan_at_that_record()
    {
        WriteFrames("m1", 6);
        var path = _store.AudioJournal("m1");
        var recordSize = (new FileInfo(path).Length - 8) / 6;
        var bytes = File.ReadAllBytes(path);
        bytes[8 + (recordSize * 4) - 1] ^= 0xFF; // last CRC byte of record 3
        File.WriteAllBytes(path, bytes);

        using var manager = _store.Open();
        var resumed = Assert.Single(manager.Recovery.Resumed);
        Assert.Equal((3L, JournalDamage.Corrupt, recordSize * 3), (resumed.AcceptedFrames, resumed.AudioRecovery.Damage, resumed.AudioRecovery.BytesTruncated));
        Assert.Equal([0L, 1, 2], manager.ReadJournaledAudio("m1").Select(f => f.Sequence));
    }

    [Fact]
    public void A_resumed_session_drops_frames_accepted_before_the_restart_as_duplicates()
    {
        WriteFrames("m1", 4);

        using var manager = _store.Open();
        Assert.Equal(MeetingResult.AlreadyDone, manager.Start("m1", TestStore.Opus));
        Assert.Equal(FrameResult.Duplicate, manager.AcceptFrame("m1", TestStore.Frame(2)));
        Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(4)));
        using var reader = manager.OpenReleasedAudio("m1")!;
        Assert.Equal([0L, 1, 2, 3, 4], TestStore.Drain(reader, out _));
        var info = manager.Get("m1")!;
        Assert.Equal((5L, 1L, 4L), (info.Counters.Accepted, info.Counters.Duplicates, info.ReleasedThrough));
    }

    [Fact]
    public void A_stop_persisted_before_a_crash_is_honoured_on_restart()
    {
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            manager.AcceptFrame("m1", TestStore.Frame(0));
            manager.AcceptFrame("m1", TestStore.Frame(2));
            var stop = manager.Stop("m1");
            Assert.Equal(MeetingResult.Ok, stop.Result);
            Assert.Equal([new SequenceGap(1, 1)], stop.Gaps);
        }

        using var reopened = _store.Open();
        var resumed = Assert.Single(reopened.Recovery.Resumed);
        Assert.True(resumed.StopPending);
        Assert.Equal(2, resumed.AcceptedFrames);
        var info = reopened.Get("m1")!;
        Assert.Equal(MeetingState.Stopping, info.State);
        Assert.Equal([new SequenceGap(1, 1)], info.Gaps);
        Assert.Equal(FrameResult.SessionNotOpen, reopened.AcceptFrame("m1", TestStore.Frame(3)));
        using (var reader = reopened.OpenReleasedAudio("m1")!)
        {
            Assert.Equal([0L, -1, 2], TestStore.Drain(reader, out var end));
            Assert.Equal(ReleasedAudioStatus.Ended, end);
        }

        Assert.Equal(MeetingResult.Ok, reopened.Complete("m1", reopened.CreateExtractiveSummary("m1")!));
        Assert.Equal(MeetingState.Completed, reopened.Get("m1")!.State);
    }

    [Fact]
    public void The_transcript_survives_a_restart_and_later_revisions_replace_earlier_text()
    {
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            Assert.Equal(MeetingResult.Ok, manager.AppendTranscript("m1", new TranscriptSegment("s1", 0, 0, 2, "Hello every", "en")));
            manager.AppendTranscript("m1", new TranscriptSegment("s2", 0, 2, 4, "Let us start.", "en"));
            manager.AppendTranscript("m1", new TranscriptSegment("s1", 1, 0, 2, "Hello everyone.", "en"));
        }

        using var reopened = _store.Open();
        Assert.Equal(["Hello everyone.", "Let us start."], reopened.ReadTranscript("m1")!.Select(s => s.Text));
    }

    private void WriteFrames(string sessionId, int count)
    {
        using var manager = _store.Open();
        manager.Start(sessionId, TestStore.Opus);
        for (var seq = 0; seq < count; seq++)
        {
            Assert.Equal(FrameResult.Accepted, manager.AcceptFrame(sessionId, TestStore.Frame(seq)));
        }
    }
}

public sealed class RecoveryReportTests : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    [Fact]
    public void Unreadable_folders_are_reported_and_left_alone_and_interrupted_deletes_are_finished()
    {
        Directory.CreateDirectory(Path.Combine(_store.Root, "no-state"));
        Directory.CreateDirectory(Path.Combine(_store.Root, "bad-state"));
        File.WriteAllText(Path.Combine(_store.Root, "bad-state", "state.json"), "{ torn");
        Directory.CreateDirectory(Path.Combine(_store.Root, ".deleted-m9-0123"));
        File.WriteAllText(Path.Combine(_store.Root, ".deleted-m9-0123", "audio.journal"), "private");

        using var manager = _store.Open();
        Assert.Empty(manager.Recovery.Resumed);
        Assert.Equal(2, manager.Recovery.Skipped.Count);
        Assert.Contains(manager.Recovery.Skipped, s => s.StartsWith("no-state:", StringComparison.Ordinal));
        Assert.Contains(manager.Recovery.Skipped, s => s.StartsWith("bad-state:", StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(_store.Root, ".deleted-m9-0123")));
        Assert.True(Directory.Exists(Path.Combine(_store.Root, "no-state")));
        Assert.Empty(manager.List());
    }

    [Fact]
    public void An_aborted_session_refuses_frames_and_stays_aborted_after_a_restart()
    {
        using (var manager = _store.Open())
        {
            manager.Start("m1", TestStore.Opus);
            manager.AcceptFrame("m1", TestStore.Frame(0));
            Assert.Equal(MeetingResult.Ok, manager.Abort("m1"));
            Assert.Equal(MeetingResult.AlreadyDone, manager.Abort("m1"));
            Assert.Equal(FrameResult.SessionNotOpen, manager.AcceptFrame("m1", TestStore.Frame(1)));
            Assert.Equal(MeetingResult.InvalidState, manager.Stop("m1").Result);
        }

        using var reopened = _store.Open();
        Assert.Empty(reopened.Recovery.Resumed);
        var info = reopened.Get("m1")!;
        Assert.Equal((MeetingState.Aborted, 1L), (info.State, info.Counters.Accepted));
    }
}
