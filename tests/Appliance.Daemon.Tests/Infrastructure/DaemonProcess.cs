using System.Collections.Concurrent;
using System.Diagnostics;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>The daemon as its own OS process (the build output next to the tests), for exit codes and SIGKILL.</summary>
internal sealed class DaemonProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private DaemonProcess(Process process)
    {
        _process = process;
    }

    public string Output => string.Join(Environment.NewLine, _output);

    public bool HasExited => _process.HasExited;

    /// <summary>The daemon's process id (the <c>dotnet</c> host runs the daemon in its own process), for /proc figures.</summary>
    public int Id => _process.Id;

    public static DaemonProcess Start(params string[] args) => Start(StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll"), .. WithOwnMeetingsRoot(args)]));

    /// <summary>Starts the daemon with these environment variables added to the test's own.</summary>
    public static DaemonProcess Start(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var start = StartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll"), .. WithOwnMeetingsRoot(args)]);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        return Start(start);
    }

    /// <summary>
    /// The arguments, with a meetings folder of this daemon's own unless they name one (the store's lock lets one daemon
    /// use a folder, and tests run side by side). A restarted daemon gets the same arguments, so the same folder.
    /// </summary>
    private static string[] WithOwnMeetingsRoot(string[] args) =>
        args.Any(a => a.StartsWith("--Meetings:Root=", StringComparison.Ordinal))
            ? args
            : [.. args, $"--Meetings:Root={Path.Combine(Path.GetTempPath(), "appliance-test-meetings-" + string.Join('-', args).GetHashCode(StringComparison.Ordinal).ToString("x8", System.Globalization.CultureInfo.InvariantCulture))}"];

    /// <summary>
    /// Starts the daemon in a mount namespace of its own (<c>unshare</c>, util-linux; as an unprivileged user too, where
    /// user namespaces are allowed) after <paramref name="setup"/>, a shell command that mounts the small or read-only
    /// file systems it is to meet. The mounts vanish with the process; the network is shared with the test.
    /// </summary>
    public static DaemonProcess StartWithMounts(string setup, params string[] args)
    {
        var daemon = string.Join(' ', new[] { "dotnet", Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll") }.Concat(WithOwnMeetingsRoot(args)).Select(Quote));
        return Start(StartInfo("unshare", ["--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", $"{setup} && exec {daemon}"]));
    }

    private static ProcessStartInfo StartInfo(string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        return start;
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static DaemonProcess Start(ProcessStartInfo start)
    {
        var process = new Process { StartInfo = start };
        var daemon = new DaemonProcess(process);
        process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return daemon;
    }

    /// <summary>Completes when the daemon logs its ready line.</summary>
    public Task WaitReadyAsync(TimeSpan limit) => _ready.Task.WaitAsync(limit);

    public async Task<int> WaitForExitAsync(TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>SIGKILL: no shutdown code runs, as in a power cut or an OOM kill.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            await KillAsync();
        }

        _process.Dispose();
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        if (line.Contains("Ready in", StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }
}
