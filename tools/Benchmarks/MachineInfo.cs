using System.Globalization;
using System.Runtime.InteropServices;

namespace Appliance.Benchmarks;

/// <summary>The machine a benchmark ran on, read from <c>/proc</c> where it exists.</summary>
/// <param name="Cpu">CPU model name.</param>
/// <param name="Cores">Logical processors this process may use.</param>
/// <param name="MemoryBytes">Physical memory.</param>
/// <param name="OperatingSystem">Operating system description.</param>
/// <param name="Runtime">.NET runtime description.</param>
internal sealed record MachineInfo(string Cpu, int Cores, long MemoryBytes, string OperatingSystem, string Runtime)
{
    public static MachineInfo Read() => new(
        ProcField("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        Environment.ProcessorCount,
        ProcField("/proc/meminfo", "MemTotal") is { } total ? long.Parse(total.Split(' ')[0], CultureInfo.InvariantCulture) * 1024 : GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription);

    /// <summary>The machine as the reports' "Machine:" line gives it: CPU, cores, memory, operating system and runtime.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Cpu}, {Cores} cores, {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB RAM; {OperatingSystem}; {Runtime}");

    /// <summary>The 1, 5 and 15 minute load averages, or "n/a" where /proc/loadavg is absent.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]) : "n/a";

    private static string? ProcField(string path, string name) =>
        File.Exists(path)
            ? File.ReadLines(path).Where(l => l.StartsWith(name, StringComparison.Ordinal)).Select(l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()).FirstOrDefault()
            : null;
}
