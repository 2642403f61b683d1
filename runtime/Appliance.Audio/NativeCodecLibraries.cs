using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Appliance.Audio;

/// <summary>
/// Finds the board's codec libraries (libopus, libmpg123) under the names their runtime packages install (the
/// loader's own lookup of <c>opus</c> finds only a development package's <c>libopus.so</c>), and makes this
/// assembly's <c>DllImport</c>s of each resolve to the one found. One resolver serves them all, as .NET allows one per
/// assembly. Thread-safe.
/// </summary>
internal static class NativeCodecLibraries
{
    private static readonly ConcurrentDictionary<string, IntPtr> s_loaded = new(StringComparer.Ordinal);
    private static int s_resolverSet;

    /// <summary>
    /// Loads the first of <paramref name="candidates"/> that the system has, for the <c>DllImport</c> name
    /// <paramref name="name"/>; returns its handle, or <see cref="IntPtr.Zero"/> when none is there.
    /// </summary>
    public static IntPtr Load(string name, IEnumerable<string> candidates)
    {
        if (Interlocked.Exchange(ref s_resolverSet, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeCodecLibraries).Assembly, (requested, _, _) => s_loaded.GetValueOrDefault(requested));
        }

        foreach (var candidate in candidates)
        {
            if (NativeLibrary.TryLoad(candidate, typeof(NativeCodecLibraries).Assembly, DllImportSearchPath.SafeDirectories, out var handle))
            {
                s_loaded[name] = handle;
                return handle;
            }
        }

        return IntPtr.Zero;
    }
}
