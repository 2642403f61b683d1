using System.Runtime.InteropServices;

namespace Appliance.Inference;

/// <summary>
/// The C library's heap, tuned (<see cref="Tune"/>) and trimmed: glibc's <c>malloc_trim(0)</c> gives the free pages of every malloc arena back to the
/// system (<c>madvise(MADV_DONTNEED)</c>). ONNX Runtime, GenAI and the codecs allocate and free native buffers on many
/// threads; glibc keeps what they free inside its arenas for reuse and returns to the system only a free block at the
/// top of a heap, so between the blocks still in use the free ones stay resident and the process's resident set creeps
/// up. Thread-safe; a C library without <c>malloc_trim</c> (musl) has nothing to trim.
/// </summary>
public static partial class NativeHeap
{
    // mallopt's parameters (glibc's malloc.h).
    private const int MallOptMmapThreshold = -3;
    private const int MallOptArenaMax = -8;

    private static int s_unsupported;

    /// <summary>The arena limit the daemon sets by default (<c>Memory:MallocArenas</c>; measured in docs/benchmarks.md, Soak).</summary>
    public const int ApplianceArenas = 2;

    /// <summary>The mmap threshold in bytes the daemon sets by default (<c>Memory:MmapThresholdBytes</c>): glibc's starting threshold, held there.</summary>
    public const int ApplianceMmapThresholdBytes = 128 * 1024;

    /// <summary>Whether this process's C library can be trimmed (glibc on Linux); false once a trim found no <c>malloc_trim</c>.</summary>
    public static bool CanTrim => OperatingSystem.IsLinux() && Volatile.Read(ref s_unsupported) == 0;

    /// <summary>Gives the free pages of the C library's heap back to the system.</summary>
    /// <returns>True when memory was given back; false when there was none to give, or <see cref="CanTrim"/> is false.</returns>
    public static bool Trim()
    {
        if (!CanTrim)
        {
            return false;
        }

        try
        {
            return MallocTrim(0) != 0;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref s_unsupported, 1);
            return false;
        }
    }

    /// <summary>
    /// Tunes glibc's heap with <c>mallopt</c> (see mallopt(3)). Call it at the process's start, before ONNX Runtime
    /// allocates: a limit on arenas holds only for arenas not yet created.
    /// </summary>
    /// <param name="arenas">The most malloc arenas (<c>M_ARENA_MAX</c>); 0 leaves glibc's limit (8 per core on 64-bit).
    /// Fewer arenas leave less free memory stranded between blocks in use, at the cost of threads waiting on each other's locks.</param>
    /// <param name="mmapThresholdBytes">The size from which an allocation gets its own mapping, which goes back to the
    /// system when freed (<c>M_MMAP_THRESHOLD</c>); 0 leaves glibc's threshold, which starts at 128 KiB and rises to the
    /// largest block freed so far (up to 32 MiB), after which inference's large buffers stay in the heap.</param>
    /// <returns>True when every value given was taken; false when <see cref="CanTrim"/> is false (not glibc) or glibc refused one.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A value is negative.</exception>
    public static bool Tune(int arenas, int mmapThresholdBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(arenas);
        ArgumentOutOfRangeException.ThrowIfNegative(mmapThresholdBytes);
        if (!CanTrim)
        {
            return false;
        }

        try
        {
            var taken = true;
            if (arenas > 0)
            {
                taken &= MallOpt(MallOptArenaMax, arenas) != 0;
            }

            if (mmapThresholdBytes > 0)
            {
                taken &= MallOpt(MallOptMmapThreshold, mmapThresholdBytes) != 0;
            }

            return taken;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            Volatile.Write(ref s_unsupported, 1);
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
