using System.Runtime.InteropServices;

namespace Appliance.Inference;

/// <summary>
/// The C library's heap, trimmed: glibc's <c>malloc_trim(0)</c> gives the free pages of every malloc arena back to the
/// system (<c>madvise(MADV_DONTNEED)</c>). ONNX Runtime, GenAI and the codecs allocate and free native buffers on many
/// threads; glibc keeps what they free inside its arenas for reuse and returns to the system only a free block at the
/// top of a heap, so between the blocks still in use the free ones stay resident and the process's resident set creeps
/// up. Thread-safe; a C library without <c>malloc_trim</c> (musl) has nothing to trim.
/// </summary>
public static partial class NativeHeap
{
    private static int s_unsupported;

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

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
