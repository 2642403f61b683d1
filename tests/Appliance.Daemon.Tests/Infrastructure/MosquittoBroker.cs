using System.Diagnostics;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>
/// A Mosquitto broker on loopback for the external-broker tests: the one CI started (APPLIANCE_TEST_MOSQUITTO =
/// host:port) or, when that is not set or the test must stop and restart the broker, one this process starts from the
/// Debian package's binary.
/// </summary>
/// <remarks>
/// Mosquitto cannot bind port 0 (in its configuration port 0 means a Unix socket), so a private broker gets a port the
/// OS offered a moment before, and this class makes sure the broker it started is the one listening there: it waits for
/// Mosquitto's own "Opening ipv4 listen socket on port N" line, and takes another port when Mosquitto reports the
/// address in use.
/// </remarks>
internal sealed class MosquittoBroker : IAsyncDisposable
{
    private const int PortAttempts = 5;
    private static readonly string[] BinaryLocations = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"];

    private readonly string _configPath;
    private Process? _process;

    private MosquittoBroker(string host, int port, string configPath)
    {
        Host = host;
        Port = port;
        _configPath = configPath;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The shared broker from the environment, or a private one.</summary>
    public static async Task<MosquittoBroker> SharedOrPrivateAsync()
    {
        var shared = Environment.GetEnvironmentVariable("APPLIANCE_TEST_MOSQUITTO");
        if (shared is { Length: > 0 })
        {
            var parts = shared.Split(':');
            return new MosquittoBroker(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), "");
        }

        return await StartPrivateAsync();
    }

    /// <summary>A broker of this process's own, anonymous, or set up by <paramref name="settings"/> (global settings, written before the loopback listener).</summary>
    public static async Task<MosquittoBroker> StartPrivateAsync(string settings = "allow_anonymous true\npersistence false\n")
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Offered();
            var config = Path.Combine(Path.GetTempPath(), $"mosquitto-{port}-{Guid.NewGuid():N}.conf");
            await File.WriteAllTextAsync(config, $"{settings}\nlistener {port} 127.0.0.1\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n");
            var broker = new MosquittoBroker("127.0.0.1", port, config);
            if (await broker.TryStartAsync())
            {
                return broker;
            }

            File.Delete(config);
            Assert.True(attempt < PortAttempts, $"mosquitto found {PortAttempts} offered ports taken in a row");
        }
    }

    /// <summary>Starts the private broker again on its port (after <see cref="StopAsync"/>).</summary>
    public async Task StartAsync() => Assert.True(await TryStartAsync(), $"mosquitto could not listen on port {Port} again");

    /// <summary>Stops a private broker (retained messages are lost: persistence is off).</summary>
    public async Task StopAsync()
    {
        Assert.True(_configPath.Length > 0, "the shared CI broker cannot be stopped by a test");
        if (_process is { HasExited: false })
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        if (_configPath.Length > 0)
        {
            await StopAsync();
            File.Delete(_configPath);
        }
    }

    /// <summary>Starts Mosquitto and waits until it says it listens on <see cref="Port"/>; false when the address was in use.</summary>
    private async Task<bool> TryStartAsync()
    {
        var binary = BinaryLocations.FirstOrDefault(File.Exists);
        Assert.True(binary is not null, "mosquitto is not installed: apt-get install mosquitto (the README's test command does it)");
        var listening = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = new ProcessStartInfo(binary!, ["-c", _configPath]) { RedirectStandardError = true, RedirectStandardOutput = true }, EnableRaisingEvents = true };
        void OnLine(object sender, DataReceivedEventArgs e)
        {
            if (e.Data?.Contains($"listen socket on port {Port}.", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult(true);
            }
            else if (e.Data?.Contains("Address already in use", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult(false);
            }
        }

        process.OutputDataReceived += OnLine;
        process.ErrorDataReceived += OnLine;
        process.Exited += (_, _) => listening.TrySetResult(false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (await listening.Task.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            _process = process;
            return true;
        }

        if (!process.HasExited)
        {
            process.Kill();
        }

        await process.WaitForExitAsync();
        process.Dispose();
        return false;
    }
}
