using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Meetings;

/// <summary>The <c>Meetings</c> configuration section.</summary>
internal sealed class MeetingsOptions
{
    public const string Section = "Meetings";

    /// <summary>Folder of the session journals (relative to the working directory unless absolute).</summary>
    [Required]
    [MinLength(1)]
    public string Root { get; set; } = "meetings";

    /// <summary>How far (in sequence numbers) a frame may run ahead before the missing ones are skipped as a gap.</summary>
    [Range(1, 10_000)]
    public int ReorderWindow { get; set; } = 64;

    /// <summary>The largest frame payload, in bytes.</summary>
    [Range(1, 16 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 16 * 1024;

    /// <summary>Days completed and aborted meetings are kept.</summary>
    [Range(0, 36_500)]
    public int RetentionDays { get; set; } = 7;

    /// <summary>Free space in bytes the meetings' file system must have for a new meeting to start; 0 turns the check off.</summary>
    [Range(0, long.MaxValue)]
    public long MinFreeBytes { get; set; } = 1024 * 1024;

    /// <summary>Frames received but not yet journaled; beyond it frames are dropped and counted (the daemon is overloaded).</summary>
    [Range(16, 10_000_000)]
    public int IngestQueueFrames { get; set; } = 65_536;

    /// <summary>
    /// The least time, in milliseconds, between two journal batches: each session's journal is flushed at most this
    /// often, so a hub with many streams pays one flush for several frames of each. A frame counts as accepted up to
    /// this much later. 0 flushes as soon as frames are queued.
    /// </summary>
    [Range(0, 1000)]
    public int CommitIntervalMilliseconds { get; set; } = 50;
}

[OptionsValidator]
internal sealed partial class MeetingsOptionsValidator : IValidateOptions<MeetingsOptions>;
