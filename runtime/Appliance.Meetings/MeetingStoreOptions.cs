namespace Appliance.Meetings;

/// <summary>Where and how meeting sessions are stored.</summary>
public sealed class MeetingStoreOptions
{
    /// <summary>The folder holding one sub-folder per session. Created when missing.</summary>
    public required string RootDirectory { get; init; }

    /// <summary>How far (in sequence numbers) a frame may run ahead of the next one due before the missing ones are skipped as a gap.</summary>
    public int ReorderWindow { get; init; } = 64;

    /// <summary>The largest frame payload accepted, in bytes.</summary>
    public int MaxFrameBytes { get; init; } = 16 * 1024;

    /// <summary>How long completed and aborted sessions are kept before <see cref="MeetingSessionManager.DeleteExpired"/> removes them.</summary>
    public TimeSpan Retention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How many sessions may be open (taking audio) at once; <see cref="MeetingSessionManager.Start"/> answers <see cref="MeetingResult.Busy"/> beyond it.</summary>
    public int Capacity { get; init; } = int.MaxValue;

    /// <summary>
    /// The free space, in bytes, the root folder's file system must have for a new session to start (about 30 s of
    /// 16 kHz PCM per MiB); below it <see cref="MeetingSessionManager.Start"/> answers <see cref="MeetingResult.StorageFull"/>.
    /// 0 turns the check off. Sessions already open go on until the disk is full.
    /// </summary>
    public long MinFreeBytes { get; init; } = 1024 * 1024;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(RootDirectory);
        ArgumentOutOfRangeException.ThrowIfLessThan(ReorderWindow, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFrameBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxFrameBytes, 16 * 1024 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(Retention, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(Capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(MinFreeBytes);
    }
}
