using System.Globalization;

namespace Appliance.Benchmarks;

/// <summary>Reads this process's memory figures from <c>/proc/self/status</c> (Linux).</summary>
internal static class ProcessMemory
{
    /// <summary>The peak resident set size (<c>VmHWM</c>) in bytes; the working set where /proc is absent.</summary>
    public static long PeakResidentBytes()
    {
        const string StatusPath = "/proc/self/status";
        if (!File.Exists(StatusPath))
        {
            return Environment.WorkingSet;
        }

        var line = File.ReadLines(StatusPath).First(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        var kibibytes = long.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return kibibytes * 1024;
    }
}
