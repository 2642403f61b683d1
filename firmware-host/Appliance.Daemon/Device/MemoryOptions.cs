using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Device;

/// <summary>The <c>Memory</c> configuration section.</summary>
internal sealed class MemoryOptions
{
    public const string Section = "Memory";

    /// <summary>Seconds between two trims of the C library's heap (see <see cref="NativeHeapTrimmer"/>); 0 turns trimming off.</summary>
    [Range(0, 3600)]
    public int TrimIntervalSeconds { get; set; } = 60;

    /// <summary>
    /// Whether ONNX Runtime's CPU allocator keeps a memory arena in the speech sessions: Whisper, VAD, wake word
    /// (<see cref="Inference.InferenceSettings.CpuMemoryArena"/>; the language models follow <c>Llm:CpuArena</c>).
    /// On by default. Off, a run's buffers go back to the C library when the run ends, which held the soak's daemon
    /// lower, but with glibc's mmap threshold held every buffer of a Whisper step is mapped and faulted in again:
    /// forged whisper-base took 8.2 times as long to transcribe a minute, for about 290 MiB less resident
    /// (docs/benchmarks.md, Soak).
    /// </summary>
    public bool CpuArena { get; set; } = true;

    /// <summary>The most malloc arenas glibc creates (<c>M_ARENA_MAX</c>, see <see cref="Inference.NativeHeap.Tune"/>); 0 leaves glibc's own limit.</summary>
    [Range(0, 64)]
    public int MallocArenas { get; set; } = Inference.NativeHeap.ApplianceArenas;

    /// <summary>
    /// The allocation size in bytes from which glibc maps a block of its own that goes back to the system when freed
    /// (<c>M_MMAP_THRESHOLD</c>, see <see cref="Inference.NativeHeap.Tune"/>); 0 leaves glibc's sliding threshold.
    /// </summary>
    [Range(0, 32 * 1024 * 1024)]
    public int MmapThresholdBytes { get; set; } = Inference.NativeHeap.ApplianceMmapThresholdBytes;
}

[OptionsValidator]
internal sealed partial class MemoryOptionsValidator : IValidateOptions<MemoryOptions>;
