using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Storage;

/// <summary>
/// Replaces a small file so that a crash leaves either the old or the new content, never a mix, and makes new directory
/// entries durable: a rename or a new folder lives in its parent directory, which is flushed too. Every failure of the
/// disk (a full or read-only filesystem, an I/O error reported by <c>fsync</c> or <c>close</c>) is an
/// <see cref="IOException"/>.
/// </summary>
public static partial class AtomicFile
{
    private const int ReadOnlyFlag = 0x0000;          // O_RDONLY: enough to fsync a directory (POSIX)
    private const int CloseOnExecFlag = 0x80000;      // O_CLOEXEC (Linux, the same on x86-64 and ARM)
    private const int InvalidArgument = 22;       // EINVAL: the filesystem cannot fsync a directory
    private const int NotSupported = 95;          // EOPNOTSUPP

    /// <summary>Writes <paramref name="content"/> to a temporary file, flushes it, renames it over <paramref name="path"/> and flushes the folder.</summary>
    /// <exception cref="IOException">The disk refused a step. <paramref name="path"/> holds its old content whole, or,
    /// when only the folder's flush failed, its new content, which a power cut may still take back.</exception>
    public static void Write(string path, ReadOnlySpan<byte> content)
    {
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.Write(content);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Creates a folder and flushes its parent, so the folder survives a power cut.</summary>
    /// <exception cref="IOException">The folder could not be created or its parent not flushed.</exception>
    public static void CreateDirectory(string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            return;
        }

        Directory.CreateDirectory(full);
        FlushDirectory(Path.GetDirectoryName(full)!);
    }

    /// <summary>
    /// <c>fsync</c> on the directory itself (POSIX), so that the entries renamed or created in it are on the disk. A
    /// filesystem that cannot flush a directory (EINVAL, EOPNOTSUPP) orders its metadata itself; anywhere but Linux
    /// and macOS nothing is done.
    /// </summary>
    /// <exception cref="IOException">The directory could not be opened, flushed or closed.</exception>
    public static void FlushDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        using var descriptor = Open(directory, ReadOnlyFlag | (OperatingSystem.IsLinux() ? CloseOnExecFlag : 0));
        if (descriptor.IsInvalid)
        {
            throw Failure("open", directory);
        }

        if (Fsync(descriptor) != 0 && Marshal.GetLastPInvokeError() is not (InvalidArgument or NotSupported))
        {
            throw Failure("fsync", directory);
        }

        descriptor.CloseChecked(directory);
    }

    private static IOException Failure(string call, string path) =>
        new($"{call} of {path} failed: {Marshal.GetLastPInvokeErrorMessage()}", Marshal.GetLastPInvokeError());

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial DirectoryDescriptor Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(DirectoryDescriptor descriptor);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(nint descriptor);

    /// <summary>A directory's file descriptor, owned: closed exactly once, by <see cref="CloseChecked"/> or, on an error path, by the finalizer-safe release.</summary>
    private sealed class DirectoryDescriptor() : SafeHandleMinusOneIsInvalid(ownsHandle: true)
    {
        /// <summary>Closes the descriptor now and reports a failing <c>close</c>, which the release path could not.</summary>
        public void CloseChecked(string path)
        {
            var descriptor = handle;
            SetHandleAsInvalid();
            if (AtomicFile.Close(descriptor) != 0)
            {
                throw Failure("close", path);
            }
        }

        protected override bool ReleaseHandle() => AtomicFile.Close(handle) == 0;
    }
}
