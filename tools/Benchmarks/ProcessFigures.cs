using System.Globalization;

namespace Appliance.Benchmarks;

/// <summary>CPU time, resident memory, open files and threads of any process, read from <c>/proc/PID</c> (Linux).</summary>
internal static class ProcessFigures
{
    /// <summary>Clock ticks per second of the CPU times in <c>/proc/PID/stat</c> (USER_HZ on Linux).</summary>
    public const double TicksPerSecond = 100;

    /// <summary>User plus system CPU time of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat).</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static long CpuTicks(int pid)
    {
        var fields = StatFieldsAfterName(pid);
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    /// <summary>System (kernel) CPU time of a process, in clock ticks (field 15 of /proc/PID/stat).</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static long SystemCpuTicks(int pid) => long.Parse(StatFieldsAfterName(pid)[12], CultureInfo.InvariantCulture);

    /// <summary>
    /// Context switches of a process's live threads so far, summed over <c>/proc/PID/task/*/status</c>: voluntary
    /// (the thread blocked: a futex wait, a sleep, I/O) and involuntary (the scheduler took the core). Threads that
    /// have ended are not counted, so read it around work whose threads stay.
    /// </summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static (long Voluntary, long Involuntary) ContextSwitches(int pid)
    {
        long voluntary = 0, involuntary = 0;
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                voluntary += StatusNumber($"{task}/status", "voluntary_ctxt_switches:");
                involuntary += StatusNumber($"{task}/status", "nonvoluntary_ctxt_switches:");
            }
            catch (IOException)
            {
                // the thread ended while it was read
            }
        }

        return (voluntary, involuntary);
    }

    /// <summary>CPU use between two <see cref="CpuTicks"/> readings, in percent of one core.</summary>
    public static double CpuPercent(long ticksBefore, long ticksAfter, TimeSpan elapsed) =>
        elapsed <= TimeSpan.Zero ? 0 : 100 * (ticksAfter - ticksBefore) / TicksPerSecond / elapsed.TotalSeconds;

    /// <summary>The peak resident set (<c>VmHWM</c>) in KiB: since the start, or since <see cref="TryResetPeak"/>.</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static long PeakResidentKib(int pid) => StatusKib(pid, "VmHWM:");

    /// <summary>The resident set now (<c>VmRSS</c>) in KiB.</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static long ResidentKib(int pid) => StatusKib(pid, "VmRSS:");

    /// <summary>The process's open file descriptors (the entries of <c>/proc/PID/fd</c>).</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static int OpenFiles(int pid) => Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();

    /// <summary>
    /// What each of the process's file descriptors points at (the link targets in <c>/proc/PID/fd</c>: a path,
    /// <c>socket:[inode]</c>, <c>pipe:[inode]</c>, <c>anon_inode:…</c>); a descriptor closed while it is read is left out.
    /// </summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static IReadOnlyList<string> OpenFileTargets(int pid) =>
        [.. new DirectoryInfo($"/proc/{pid}/fd").EnumerateFileSystemInfos().Select(fd => fd.LinkTarget).OfType<string>()];

    /// <summary>The process's threads (<c>Threads</c> in <c>/proc/PID/status</c>).</summary>
    /// <exception cref="IOException">The process is gone.</exception>
    public static int Threads(int pid) => (int)StatusNumber($"/proc/{pid}/status", "Threads:");

    /// <summary>
    /// Sets the process's <c>VmHWM</c> back to its resident set now (writing 5 to <c>/proc/PID/clear_refs</c>), so a
    /// later <see cref="PeakResidentKib"/> covers only what followed. False where the kernel or permissions refuse.
    /// </summary>
    public static bool TryResetPeak(int pid)
    {
        try
        {
            File.WriteAllText($"/proc/{pid}/clear_refs", "5");
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The fields of <c>/proc/PID/stat</c> after the command name (which may hold spaces): index 0 is field 3.</summary>
    private static string[] StatFieldsAfterName(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    }

    /// <summary>The first number of a <c>/proc/PID/status</c> field (KiB for the memory ones).</summary>
    private static long StatusKib(int pid, string field) => StatusNumber($"/proc/{pid}/status", field);

    private static long StatusNumber(string statusPath, string field)
    {
        var line = File.ReadLines(statusPath).First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }
}
