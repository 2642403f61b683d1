using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Benchmarks.Fleet;

/// <summary>
/// Debian's Mosquitto on a loopback port, for the fleet figure and the fault campaigns: the broker a small site runs.
/// Mosquitto cannot bind port 0, so it gets a port the OS offered a moment before, and another when Mosquitto reports
/// that one in use. It can be stopped and started again on the same port (a broker upgrade). Disposing stops it.
/// </summary>
internal sealed class BenchMosquitto : IAsyncDisposable
{
    private static readonly string[] BinaryLocations = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];
    private static readonly TimeSpan ListenTimeout = TimeSpan.FromSeconds(10);

    private readonly string _binary;
    private readonly string _configPath;
    private Process? _process;

    private BenchMosquitto(string binary, string configPath, int port)
    {
        _binary = binary;
        _configPath = configPath;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The version Mosquitto logged at start, for the report.</summary>
    public string Version { get; private set; } = "";

    /// <summary>Starts Mosquitto, anonymous, no persistence, on loopback (and on <paramref name="alsoOn"/>, the same port).</summary>
    /// <param name="folder">Where its configuration goes.</param>
    /// <param name="alsoOn">A second address to listen on, such as the host end of a network namespace's link; null for loopback only.</param>
    /// <exception cref="InvalidOperationException">Mosquitto is not installed, or did not listen (within 10 s each) on any of five ports.</exception>
    public static async Task<BenchMosquitto> StartAsync(string folder, string? alsoOn = null)
    {
        var binary = BinaryLocations.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("mosquitto is not installed: apt-get install mosquitto");
        for (var attempt = 0; attempt < 5; attempt++)
        {
            int port;
            using (var listener = new TcpListener(IPAddress.Loopback, 0))
            {
                listener.Start();
                port = ((IPEndPoint)listener.LocalEndpoint).Port;
            }

            var config = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"mosquitto-{port}.conf"));
            await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"listener {port} 127.0.0.1\n{(alsoOn is null ? "" : $"listener {port} {alsoOn}\n")}allow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")).ConfigureAwait(false);
            var broker = new BenchMosquitto(binary, config, port);
            if (await broker.TryStartAsync().ConfigureAwait(false))
            {
                return broker;
            }

            File.Delete(config);
        }

        throw new InvalidOperationException("mosquitto found five offered ports taken in a row");
    }

    /// <summary>Starts the broker again on its port, after <see cref="StopAsync"/>.</summary>
    /// <exception cref="InvalidOperationException">It did not listen on its port within 10 s.</exception>
    public async Task RestartAsync()
    {
        if (!await TryStartAsync().ConfigureAwait(false))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"mosquitto could not listen on port {Port} again"));
        }
    }

    /// <summary>Stops the broker (SIGKILL, as a crash or a host going away); every client loses its connection and the retained messages are gone.</summary>
    public async Task StopAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync().ConfigureAwait(false);
            process.Dispose();
            _process = null;
        }
    }

    public long CpuTicks() => _process is { } process ? ProcessFigures.CpuTicks(process.Id) : 0;

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        File.Delete(_configPath);
    }

    /// <summary>Starts Mosquitto and waits until it says it listens on <see cref="Port"/>; false when it could not.</summary>
    private async Task<bool> TryStartAsync()
    {
        var listening = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var version = "";
        var process = new Process { StartInfo = new ProcessStartInfo(_binary, ["-c", _configPath]) { RedirectStandardError = true, RedirectStandardOutput = true }, EnableRaisingEvents = true };
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data is not { } line)
            {
                return;
            }

            if (line.Contains("mosquitto version", StringComparison.Ordinal) && line.Contains("starting", StringComparison.Ordinal))
            {
                version = line[(line.IndexOf("mosquitto version", StringComparison.Ordinal) + "mosquitto version ".Length)..].Replace(" starting", "", StringComparison.Ordinal);
            }
            else if (line.Contains(string.Create(CultureInfo.InvariantCulture, $"listen socket on port {Port}."), StringComparison.Ordinal))
            {
                listening.TrySetResult(version);
            }
            else if (line.Contains("Address already in use", StringComparison.Ordinal))
            {
                listening.TrySetResult(null);
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.Exited += (_, _) => listening.TrySetResult(null);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var started = await Task.WhenAny(listening.Task, Task.Delay(ListenTimeout)).ConfigureAwait(false) == listening.Task ? listening.Task.Result : null;
        if (started is not null)
        {
            _process = process;
            Version = started;
            return true;
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync().ConfigureAwait(false);
        process.Dispose();
        return false;
    }
}
