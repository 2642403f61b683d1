using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Contracts;

namespace Appliance.Benchmarks.Meetings;

/// <summary>
/// The daemon as its own process, from its build next to this program (<c>dotnet appliance-daemon.dll</c>), with
/// its embedded broker on a free loopback port (or on an external broker, as a fleet's hub), a given profile file, and
/// a working directory of its own (so its <c>meetings/</c> journal folder starts empty). Disposing kills it.
/// </summary>
internal sealed class BenchDaemon : IAsyncDisposable
{
    // Warnings and errors the daemon logged, kept for the report (a benchmark of a misbehaving daemon says so).
    private const int MaxProblems = 200;
    private const int TailLines = 40;

    // Every daemon this program runs, so an exit can end them all (see ExitGuard).
    private static readonly ConcurrentDictionary<BenchDaemon, bool> Running = new();

    private readonly Process _process;
    private readonly TaskCompletionSource<double> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentQueue<string> _problems = new();
    private readonly ConcurrentQueue<string> _tail = new();
    private int _problemCount;
    private CancellationTokenRegistration _killOnCancel;

    private BenchDaemon(Process process, int port, string deviceId)
    {
        _process = process;
        Port = port;
        DeviceId = deviceId;
    }

    public int Port { get; }

    public string DeviceId { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The daemon's own start-to-ready time from its ready line, in milliseconds.</summary>
    public double ReadyMilliseconds => _ready.Task.IsCompletedSuccessfully ? _ready.Task.Result : double.NaN;

    /// <summary>How many warning, error and critical lines the daemon logged.</summary>
    public int ProblemCount => Volatile.Read(ref _problemCount);

    /// <summary>The first <see cref="MaxProblems"/> of them.</summary>
    public IReadOnlyList<string> Problems => [.. _problems];

    /// <summary>The daemon's last <see cref="TailLines"/> lines of output, for a failure report.</summary>
    public IReadOnlyList<string> Tail => [.. _tail];

    /// <summary>Raised for every line the daemon writes, on the reader's thread.</summary>
    public event Action<string>? Line;

    /// <summary>Completes when the daemon's process has exited.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _process.WaitForExitAsync(cancellationToken);

    /// <summary>The exit code, once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Why the daemon is gone, or null while it runs.</summary>
    public string? ExitDescription => _process.HasExited
        ? string.Create(CultureInfo.InvariantCulture, $"the daemon exited with code {_process.ExitCode}; its last lines: {string.Join(" | ", Tail.TakeLast(8))}")
        : null;

    /// <summary>Starts the daemon and waits for its ready line.</summary>
    /// <param name="profilePath">The device profile file.</param>
    /// <param name="deviceId">The device id (given to the daemon as <c>Device:Id</c>).</param>
    /// <param name="workingDirectory">The daemon's own working directory.</param>
    /// <param name="readyTimeout">How long to wait for the ready line.</param>
    /// <param name="cancellationToken">Kills the daemon when cancelled.</param>
    /// <param name="externalBrokerPort">A broker on loopback to use instead of the embedded one.</param>
    /// <param name="extraArgs">More configuration arguments, such as <c>--Fleet:Group=…</c>.</param>
    /// <param name="launcher">
    /// A program and its arguments that run the daemon's command line in a place of its own: <see cref="InMountNamespace"/>
    /// or <c>ip netns exec</c>, which exec it, so the process killed and measured is the daemon itself; or a tracer
    /// such as strace, which runs it as a child (then the figures are the tracer's, and the kill takes the whole tree).
    /// Null runs it directly.
    /// </param>
    /// <param name="externalBrokerHost">The external broker's address, when not loopback (from a network namespace).</param>
    /// <exception cref="InvalidOperationException">It exited or was not ready within <paramref name="readyTimeout"/>.</exception>
    public static async Task<BenchDaemon> StartAsync(string profilePath, string deviceId, string workingDirectory, TimeSpan readyTimeout, CancellationToken cancellationToken, int? externalBrokerPort = null, IReadOnlyList<string>? extraArgs = null, IReadOnlyList<string>? launcher = null, string externalBrokerHost = "127.0.0.1")
    {
        int port;
        if (externalBrokerPort is { } external)
        {
            port = external;
        }
        else
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        Directory.CreateDirectory(workingDirectory);
        var start = new ProcessStartInfo(launcher is [var program, ..] ? program : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var argument in launcher is { Count: > 0 } ? [.. launcher.Skip(1), "dotnet"] : Array.Empty<string>())
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll"));
        string[] broker = externalBrokerPort is null
            ? [$"--Mqtt:Broker:Port={port.ToString(CultureInfo.InvariantCulture)}"]
            : ["--Mqtt:Mode=External", $"--Mqtt:External:Host={externalBrokerHost}", $"--Mqtt:External:Port={port.ToString(CultureInfo.InvariantCulture)}"];
        foreach (var argument in broker.Concat([$"--Profile={profilePath}", $"--Device:Id={deviceId}"]).Concat(extraArgs ?? []))
        {
            start.ArgumentList.Add(argument);
        }

        // The simulated climate sensor fails 5 % of its reads on purpose; its warnings would drown the daemon's real ones.
        start.ArgumentList.Add("--Simulation:ChecksumFailureRate=0");
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var daemon = new BenchDaemon(process, port, deviceId);
        process.OutputDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => daemon.OnLine(e.Data);
        process.Exited += (_, _) => daemon._ready.TrySetException(new InvalidOperationException($"The daemon exited before it was ready: {string.Join(" | ", daemon.Tail.TakeLast(8))}"));
        process.Start();
        Running[daemon] = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // Ctrl+C ends this program within the command line's grace period: the daemon must not outlive it.
        daemon._killOnCancel = cancellationToken.Register(static state => ((BenchDaemon)state!).Kill(), daemon);
        try
        {
            await daemon._ready.Task.WaitAsync(readyTimeout, cancellationToken).ConfigureAwait(false);
            return daemon;
        }
        catch (TimeoutException)
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"The daemon logged no ready line within {readyTimeout.TotalSeconds:0} s.");
        }
        catch
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// A launcher that runs the daemon in a mount namespace of its own (<c>unshare --user --map-root-user --mount</c>,
    /// no root needed) after the shell command <paramref name="setup"/> has mounted what it needs there (a small
    /// tmpfs for its meetings, say). What it mounts is seen from outside under <c>/proc/{ProcessId}/root</c>.
    /// </summary>
    public static IReadOnlyList<string> InMountNamespace(string setup) =>
        ["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private", "sh", "-c", $"{setup} && exec \"$0\" \"$@\""];

    /// <summary>A new MQTT client of this daemon's broker (its own connection, as an earbud hub's).</summary>
    public Task<ApplianceClient> ConnectAsync(CancellationToken cancellationToken) =>
        ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = Port, DeviceId = DeviceId, DefaultTimeout = TimeSpan.FromSeconds(30) }, cancellationToken);

    public long CpuTicks() => ProcessFigures.CpuTicks(ProcessId);

    public long PeakResidentKib() => ProcessFigures.PeakResidentKib(ProcessId);

    public bool TryResetPeak() => ProcessFigures.TryResetPeak(ProcessId);

    /// <summary>The resident set now in KiB, or 0 once the daemon is gone.</summary>
    public long ResidentKib() => HasExited ? 0 : ProcessFigures.ResidentKib(ProcessId);

    /// <summary>Kills every daemon still running and waits briefly for each to go (for an exit in progress).</summary>
    public static void KillAll()
    {
        foreach (var daemon in Running.Keys)
        {
            daemon.Kill();
            try
            {
                daemon._process.WaitForExit(TimeSpan.FromSeconds(3));
            }
            catch (InvalidOperationException)
            {
                // Never started.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _killOnCancel.DisposeAsync().ConfigureAwait(false);
        Running.TryRemove(this, out _);
        Kill();
        try
        {
            await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Never started.
        }

        _process.Dispose();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started, or already gone.
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        Line?.Invoke(line);
        _tail.Enqueue(line);
        while (_tail.Count > TailLines && _tail.TryDequeue(out _))
        {
            // Keep only the last lines.
        }

        if (line.Contains("Ready in ", StringComparison.Ordinal))
        {
            var at = line.IndexOf("Ready in ", StringComparison.Ordinal) + "Ready in ".Length;
            _ready.TrySetResult(double.TryParse(line[at..].Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) ? ms : double.NaN);
        }

        // The simple console formatter writes "HH:mm:ss.fff warn: Category[id] message" on one line.
        if (line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)
            || line.StartsWith("appliance-daemon:", StringComparison.Ordinal) || line.StartsWith("Unhandled exception", StringComparison.Ordinal))
        {
            if (Interlocked.Increment(ref _problemCount) <= MaxProblems)
            {
                _problems.Enqueue(line);
            }
        }
    }
}
