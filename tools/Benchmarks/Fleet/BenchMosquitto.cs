using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Appliance.Benchmarks.Fleet;

/// <summary>
/// Debian's Mosquitto on a loopback port, for the fleet figure: the broker a small site runs. Mosquitto cannot bind
/// port 0, so it gets a port the OS offered a moment before, and another when Mosquitto reports that one in use.
/// Disposing stops it.
/// </summary>
internal sealed class BenchMosquitto : IAsyncDisposable
{
    private static readonly string[] BinaryLocations = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

    private readonly Process _process;
    private readonly string _configPath;

    private BenchMosquitto(Process process, string configPath, int port, string version)
    {
        _process = process;
        _configPath = configPath;
        Port = port;
        Version = version;
    }

    public int Port { get; }

    /// <summary>The version Mosquitto logged at start, for the report.</summary>
    public string Version { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts Mosquitto, anonymous, loopback only, no persistence.</summary>
    /// <exception cref="InvalidOperationException">Mosquitto is not installed, or did not listen (within 10 s each) on any of five ports.</exception>
    public static async Task<BenchMosquitto> StartAsync(string folder)
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
            await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n")).ConfigureAwait(false);
            var listening = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
            var version = "";
            var process = new Process { StartInfo = new ProcessStartInfo(binary, ["-c", config]) { RedirectStandardError = true, RedirectStandardOutput = true }, EnableRaisingEvents = true };
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
                else if (line.Contains(string.Create(CultureInfo.InvariantCulture, $"listen socket on port {port}."), StringComparison.Ordinal))
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
            var started = await Task.WhenAny(listening.Task, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false) == listening.Task ? listening.Task.Result : null;
            if (started is not null)
            {
                return new BenchMosquitto(process, config, port, started);
            }

            if (!process.HasExited)
            {
                process.Kill();
            }

            await process.WaitForExitAsync().ConfigureAwait(false);
            process.Dispose();
        }

        throw new InvalidOperationException("mosquitto found five offered ports taken in a row");
    }

    public long CpuTicks() => ProcessFigures.CpuTicks(ProcessId);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
        _process.Dispose();
        File.Delete(_configPath);
    }
}
