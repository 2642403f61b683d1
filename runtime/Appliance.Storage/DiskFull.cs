namespace Appliance.Storage;

/// <summary>
/// Tells a full disk from other storage failures. On Linux .NET reports a failed system call's errno as the
/// <see cref="Exception.HResult"/> of its <see cref="IOException"/>; ENOSPC and EDQUOT (the same numbers on x86-64
/// and ARM) mean the file system or the user's quota has no room left.
/// </summary>
public static class DiskFull
{
    private const int NoSpace = 28;        // ENOSPC
    private const int QuotaExceeded = 122; // EDQUOT

    /// <summary>Whether <paramref name="failure"/> says the disk is full.</summary>
    public static bool Is(IOException failure) => failure.HResult is NoSpace or QuotaExceeded;

    /// <summary>The free space, in bytes, on the file system holding <paramref name="folder"/> for an unprivileged writer, or null when it cannot be read.</summary>
    public static long? FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
