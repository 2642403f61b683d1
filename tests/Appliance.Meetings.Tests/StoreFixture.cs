using Appliance.Meetings;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Meetings.Tests;

/// <summary>A root folder of its own per test, removed afterwards, and helpers to open managers on it.</summary>
internal sealed class TestStore : IDisposable
{
    public TestStore(int reorderWindow = 8)
    {
        Root = Path.Combine(Path.GetTempPath(), "meetings-tests", Guid.NewGuid().ToString("N"));
        ReorderWindow = reorderWindow;
    }

    public string Root { get; }

    public int ReorderWindow { get; }

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero));

    public static MeetingParameters Opus { get; } = new("opus", 16_000, 1, "en", ["Maria", "Tom"]);

    public MeetingSessionManager Open() =>
        new(new MeetingStoreOptions { RootDirectory = Root, ReorderWindow = ReorderWindow, MaxFrameBytes = 1024, Retention = TimeSpan.FromDays(7) }, Time);

    public static AudioFrame Frame(long sequence, string codec = "opus", int size = 40) =>
        new(sequence, codec, sequence * 20_000, Enumerable.Range(0, size).Select(i => (byte)(sequence + i)).ToArray());

    /// <summary>Reads what the released-audio reader hands out now: each frame's sequence number, and -n for n frames lost before it.</summary>
    public static List<long> Drain(ReleasedAudioReader reader, out ReleasedAudioStatus last)
    {
        var read = new List<long>();
        while ((last = reader.Next(out var frame, out var missing)) == ReleasedAudioStatus.Frame)
        {
            if (missing > 0)
            {
                read.Add(-missing);
            }

            read.Add(frame.Sequence);
            Assert.Equal(40, frame.Payload.Length);
            Assert.Equal((byte)frame.Sequence, frame.Payload.Span[0]);
        }

        return read;
    }

    public string AudioJournal(string sessionId) => Path.Combine(Root, sessionId, "audio.journal");

    public void Dispose()
    {
        if (Directory.Exists(Root))
        {
            Directory.Delete(Root, recursive: true);
        }
    }
}
