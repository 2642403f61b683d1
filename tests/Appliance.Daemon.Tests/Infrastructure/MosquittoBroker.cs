using System.Diagnostics;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>
/// A Mosquitto broker on loopback for the external-broker tests: the one CI started (APPLIANCE_TEST_MOSQUITTO
/// = host:port) or, when that is not set or the test must stop and restart the broker, one this process
/// starts from the Debian package's binary on a port the OS picked.
/// </summary>
internal sealed class MosquittoBroker : IAsyncDisposable
{
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

    public static async Task<MosquittoBroker> StartPrivateAsync()
    {
        var port = FreePort.Next();
        var config = Path.Combine(Path.GetTempPath(), $"mosquitto-{port}.conf");
        await File.WriteAllTextAsync(config, $"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n");
        var broker = new MosquittoBroker("127.0.0.1", port, config);
        await broker.StartAsync();
        return broker;
    }

    public async Task StartAsync()
    {
        var binary = BinaryLocations.FirstOrDefault(File.Exists);
        Assert.True(binary is not null, "mosquitto is not installed: apt-get install mosquitto (the README's test command does it)");
        _process = Process.Start(new ProcessStartInfo(binary!, ["-c", _configPath]) { RedirectStandardError = true, RedirectStandardOutput = true });
        await FreePort.WaitUntilListeningAsync(Port, TimeSpan.FromSeconds(10));
    }

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
}
