using System.Diagnostics;
using System.Globalization;

namespace Appliance.Fuzz;

/// <summary>What AFL++ reported for one target (its <c>fuzzer_stats</c>), and the inputs it kept as findings.</summary>
/// <param name="Target">The target.</param>
/// <param name="Executions">Inputs run.</param>
/// <param name="Paths">Inputs kept for reaching new branches (the corpus it grew).</param>
/// <param name="Crashes">Inputs that raised an exception the target lets through, or killed the process.</param>
/// <param name="Hangs">Inputs that ran past the time-out.</param>
/// <param name="Seconds">How long it ran.</param>
/// <param name="Findings">The crash and hang inputs, copied out for turning into tests.</param>
/// <param name="Failure">Why AFL++ did not run to its end, or null.</param>
internal sealed record FuzzResult(string Target, long Executions, long Paths, long Crashes, long Hangs, double Seconds, IReadOnlyList<string> Findings, string? Failure);

/// <summary>
/// Runs AFL++ (Debian package <c>afl++</c>) on each target in turn, with SharpFuzz's instrumentation: the build
/// output is copied to a work folder, the target's assemblies are instrumented there (the <c>sharpfuzz</c> tool of the
/// repository's tool manifest), and <c>afl-fuzz</c> runs this program's <c>run</c> mode, which reads each input from
/// the file afl-fuzz names (<c>@@</c>), from the seeds in <c>corpus/TARGET</c> until it has made the executions asked
/// for. Each AFL++ run is bounded by its execution count and a wall-clock limit.
/// </summary>
internal static class FuzzCampaign
{
    private static readonly TimeSpan PerInputLimit = TimeSpan.FromSeconds(5);

    public static async Task<FuzzResult> RunAsync(FuzzTarget target, long executions, int seed, TimeSpan limit, string workDirectory, string findingsDirectory, Action<string> progress, CancellationToken cancellationToken)
    {
        var bin = Path.Combine(workDirectory, target.Name, "bin");
        CopyDirectory(AppContext.BaseDirectory, bin);
        foreach (var assembly in target.Instrument)
        {
            var (code, output) = await RunProcessAsync("dotnet", ["tool", "run", "sharpfuzz", Path.Combine(bin, assembly)], RepositoryRoot(), [], TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
            if (code != 0)
            {
                return Failed($"sharpfuzz could not instrument {assembly} (run `dotnet tool restore` in the repository): {output.Trim()}");
            }
        }

        var findings = Path.Combine(workDirectory, target.Name, "out");
        progress(string.Create(CultureInfo.InvariantCulture, $"fuzz: {target.Name}: AFL++ for {executions} executions ({target.Description})"));
        var started = Stopwatch.StartNew();
        var (exit, log) = await RunProcessAsync(
            "afl-fuzz",
            ["-i", Path.Combine(AppContext.BaseDirectory, "corpus", target.Name), "-o", findings, "-E", executions.ToString(CultureInfo.InvariantCulture), "-s", seed.ToString(CultureInfo.InvariantCulture), "-t", ((int)PerInputLimit.TotalMilliseconds).ToString(CultureInfo.InvariantCulture), "-m", "none", "--", "dotnet", Path.Combine(bin, "appliance-fuzz.dll"), "run", target.Name, "@@"],
            workDirectory,
            [
                ("AFL_NO_UI", "1"),
                ("AFL_SKIP_CPUFREQ", "1"),
                ("AFL_SKIP_BIN_CHECK", "1"), // the target is `dotnet`; SharpFuzz puts the instrumentation in the assemblies
                ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),
                ("AFL_FORKSRV_INIT_TMOUT", "60000"), // the runtime starts in seconds, not milliseconds
                ("AFL_NO_AFFINITY", "1"),
            ],
            limit,
            cancellationToken).ConfigureAwait(false);
        var seconds = started.Elapsed.TotalSeconds;
        var stats = ReadStats(Path.Combine(findings, "default", "fuzzer_stats"));
        var kept = CopyFindings(Path.Combine(findings, "default"), Path.Combine(findingsDirectory, target.Name));
        var executed = stats.GetValueOrDefault("execs_done");
        var failure = exit == 0 && executed > 0 ? null : $"afl-fuzz ended with {exit} after {executed} executions: {LastLines(log, 6)}";
        return new FuzzResult(target.Name, executed, stats.GetValueOrDefault("corpus_count"), stats.GetValueOrDefault("saved_crashes"), stats.GetValueOrDefault("saved_hangs"), seconds, kept, failure);

        FuzzResult Failed(string why) => new(target.Name, 0, 0, 0, 0, 0, [], why);
    }

    private static Dictionary<string, long> ReadStats(string path)
    {
        var stats = new Dictionary<string, long>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return stats;
        }

        foreach (var line in File.ReadLines(path))
        {
            var parts = line.Split(':', 2, StringSplitOptions.TrimEntries);
            if (parts.Length == 2 && long.TryParse(parts[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            {
                stats[parts[0]] = value;
            }
        }

        return stats;
    }

    /// <summary>Copies the crash and hang inputs out of AFL++'s folder; returns their new paths.</summary>
    private static List<string> CopyFindings(string aflFolder, string destination)
    {
        var kept = new List<string>();
        foreach (var kind in new[] { "crashes", "hangs" })
        {
            var folder = Path.Combine(aflFolder, kind);
            if (!Directory.Exists(folder))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(folder).Where(f => !Path.GetFileName(f).StartsWith("README", StringComparison.Ordinal)))
            {
                Directory.CreateDirectory(destination);
                var copy = Path.Combine(destination, $"{kind}-{Path.GetFileName(file).Replace(':', '_').Replace(',', '_')}");
                File.Copy(file, copy, overwrite: true);
                kept.Add(copy);
            }
        }

        return kept;
    }

    private static string LastLines(string text, int count) =>
        string.Join(" | ", text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(count));

    /// <summary>The repository's root: the nearest folder above this program that holds the tool manifest.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, ".config", "dotnet-tools.json")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("no .config/dotnet-tools.json above this program: run it from the repository's build");
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    /// <summary>Runs a program to its end or the limit (then kills it); its exit code (-1 when killed) and its output.</summary>
    private static async Task<(int Code, string Output)> RunProcessAsync(string program, IReadOnlyList<string> arguments, string workingDirectory, IReadOnlyList<(string Name, string Value)> environment, TimeSpan limit, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{program} could not be started");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, $"{program} could not be started ({e.Message}): apt-get install afl++");
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(limit);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
                return (-1, $"stopped after {limit.TotalSeconds:0} s; {await output.ConfigureAwait(false)}{await error.ConfigureAwait(false)}");
            }

            return (process.ExitCode, await output.ConfigureAwait(false) + await error.ConfigureAwait(false));
        }
    }
}
