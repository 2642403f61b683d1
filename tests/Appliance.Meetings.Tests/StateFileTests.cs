using System.Text;

namespace Appliance.Meetings.Tests;

/// <summary>
/// The session state is kept in two copies (<c>state.json</c> and its mirror <c>state.copy.json</c>), each sealed with a
/// CRC-32: damage to either copy, at any byte, loses no meeting and no change, is reported once, and is repaired at load.
/// </summary>
public sealed class StateFileTests : IDisposable
{
    private readonly TestStore _store = new();

    public void Dispose() => _store.Dispose();

    private string Folder => Path.Combine(_store.Root, "m1");

    /// <summary>A meeting with three frames, then stopped; returns the state file's text from before the stop.</summary>
    private byte[] WriteStoppedMeeting()
    {
        using var manager = _store.Open();
        Assert.Equal(MeetingResult.Ok, manager.Start("m1", TestStore.Opus));
        foreach (var seq in new long[] { 0, 1, 3 })
        {
            Assert.Equal(FrameResult.Accepted, manager.AcceptFrame("m1", TestStore.Frame(seq)));
        }

        var open = File.ReadAllBytes(Path.Combine(Folder, SessionStateFile.CurrentName));
        Assert.Equal(MeetingResult.Ok, manager.Stop("m1").Result);
        return open;
    }

    [Theory]
    [InlineData(SessionStateFile.CurrentName, false)]
    [InlineData(SessionStateFile.CurrentName, true)]
    [InlineData(SessionStateFile.MirrorName, false)]
    [InlineData(SessionStateFile.MirrorName, true)]
    public void Damage_to_one_copy_at_any_byte_loses_nothing_and_is_repaired(string damagedCopy, bool overwrite)
    {
        WriteStoppedMeeting();
        var pristine = Directory.GetFiles(Folder).ToDictionary(path => Path.GetFileName(path), File.ReadAllBytes);
        var length = pristine[damagedCopy].Length;
        var random = new Random(length);
        var offsets = Enumerable.Range(0, length).Where(i => i % 7 == 0 || i >= length - 3).ToList();
        foreach (var offset in offsets)
        {
            foreach (var (name, bytes) in pristine)
            {
                File.WriteAllBytes(Path.Combine(Folder, name), bytes);
            }

            var damaged = pristine[damagedCopy].ToArray();
            if (overwrite)
            {
                // A torn write: garbage from the offset on, each byte different from what it replaces.
                for (var i = offset; i < Math.Min(length, offset + 1 + random.Next(64)); i++)
                {
                    damaged[i] ^= (byte)random.Next(1, 256);
                }
            }
            else
            {
                damaged = damaged[..offset];
            }

            File.WriteAllBytes(Path.Combine(Folder, damagedCopy), damaged);

            using (var manager = _store.Open())
            {
                var repair = Assert.Single(manager.Recovery.StateRepairs);
                Assert.StartsWith($"m1: {damagedCopy} ", repair, StringComparison.Ordinal);
                Assert.Empty(manager.Recovery.Skipped);
                var info = manager.Get("m1")!;
                Assert.Equal(3, info.Counters.Accepted);

                // Both copies were current: whichever is left holds the stop.
                Assert.Equal(MeetingState.Stopping, info.State);
                Assert.Equal(TestStore.Opus, info.Parameters);
            }

            using (var reopened = _store.Open())
            {
                Assert.Empty(reopened.Recovery.StateRepairs);
                Assert.Equal(3, reopened.Get("m1")!.Counters.Accepted);
            }
        }
    }

    /// <summary>A copy that is gone (deleted by hand, or never written by an older version) is restored from the mirror.</summary>
    [Fact]
    public void A_missing_state_file_is_restored_from_its_mirror()
    {
        WriteStoppedMeeting();
        File.Delete(Path.Combine(Folder, SessionStateFile.CurrentName));

        using var manager = _store.Open();
        Assert.Equal(["m1: state.json is missing; restored from state.copy.json"], manager.Recovery.StateRepairs);
        Assert.Equal(MeetingState.Stopping, manager.Get("m1")!.State);
        Assert.True(File.Exists(Path.Combine(Folder, SessionStateFile.CurrentName)));
    }

    /// <summary>
    /// A crash between a save's two writes leaves the mirror one change behind: <c>state.json</c> is whole and wins,
    /// nothing is reported (nothing was damaged), and the mirror is brought up to it.
    /// </summary>
    [Fact]
    public void A_mirror_one_change_behind_is_brought_up_to_the_state_file()
    {
        var beforeStop = WriteStoppedMeeting();
        File.WriteAllBytes(Path.Combine(Folder, SessionStateFile.MirrorName), beforeStop);

        using var manager = _store.Open();
        Assert.Empty(manager.Recovery.StateRepairs);
        Assert.Equal(MeetingState.Stopping, manager.Get("m1")!.State);
        Assert.Equal(File.ReadAllBytes(Path.Combine(Folder, SessionStateFile.CurrentName)), File.ReadAllBytes(Path.Combine(Folder, SessionStateFile.MirrorName)));
    }

    [Fact]
    public void A_folder_with_both_copies_damaged_is_skipped_and_left_alone()
    {
        WriteStoppedMeeting();
        File.WriteAllText(Path.Combine(Folder, SessionStateFile.CurrentName), "{ torn");
        File.WriteAllBytes(Path.Combine(Folder, SessionStateFile.MirrorName), File.ReadAllBytes(Path.Combine(Folder, SessionStateFile.MirrorName))[..^1]);

        using var manager = _store.Open();
        var skipped = Assert.Single(manager.Recovery.Skipped);
        Assert.StartsWith("m1: state.json is not a state document", skipped, StringComparison.Ordinal);
        Assert.Contains("and state.copy.json is not a state document", skipped, StringComparison.Ordinal);
        Assert.Null(manager.Get("m1"));
        Assert.Equal("{ torn", File.ReadAllText(Path.Combine(Folder, SessionStateFile.CurrentName)));
    }

    /// <summary>A copy whose seal was cut away whole is still damaged: a sealed version must carry its checksum.</summary>
    [Fact]
    public void A_copy_of_the_sealed_version_without_its_checksum_is_damaged()
    {
        WriteStoppedMeeting();
        var path = Path.Combine(Folder, SessionStateFile.CurrentName);
        File.WriteAllText(path, Unsealed(File.ReadAllText(path)));

        using var manager = _store.Open();
        Assert.StartsWith("m1: state.json has lost its checksum", Assert.Single(manager.Recovery.StateRepairs), StringComparison.Ordinal);
    }

    /// <summary>A meeting written by a daemon from before the seal (version 1, one copy) loads as it is and gets its second copy.</summary>
    [Fact]
    public void A_state_file_of_version_1_loads_without_a_repair_and_gains_its_second_copy()
    {
        WriteStoppedMeeting();
        var path = Path.Combine(Folder, SessionStateFile.CurrentName);
        File.WriteAllText(path, Unsealed(File.ReadAllText(path)).Replace("\"version\":2", "\"version\":1", StringComparison.Ordinal));
        File.Delete(Path.Combine(Folder, SessionStateFile.MirrorName));

        using (var manager = _store.Open())
        {
            Assert.Empty(manager.Recovery.StateRepairs);
            Assert.Equal(MeetingState.Stopping, manager.Get("m1")!.State);
            Assert.Equal(File.ReadAllBytes(path), File.ReadAllBytes(Path.Combine(Folder, SessionStateFile.MirrorName)));
            Assert.Equal(MeetingResult.Ok, manager.Complete("m1", manager.CreateExtractiveSummary("m1")!));
        }

        Assert.Contains("\"version\":2", File.ReadAllText(path), StringComparison.Ordinal);
        File.WriteAllText(path, Unsealed(File.ReadAllText(path)));
        using var reopened = _store.Open();
        Assert.StartsWith("m1: state.json has lost its checksum", Assert.Single(reopened.Recovery.StateRepairs), StringComparison.Ordinal);
    }

    private static string Unsealed(string sealedText)
    {
        var at = sealedText.LastIndexOf(",\"crc32\":\"", StringComparison.Ordinal);
        Assert.True(at > 0, sealedText);
        return new StringBuilder(sealedText, 0, at, sealedText.Length).Append('}').ToString();
    }
}
