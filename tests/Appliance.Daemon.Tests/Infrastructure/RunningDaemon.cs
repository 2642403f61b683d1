using Appliance.Contracts;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>
/// The real daemon host, started in this process with its own arguments. Disposing it stops the host and
/// fails the test if the daemon logged an error or a critical entry (unless the test allowed errors).
/// </summary>
internal sealed class RunningDaemon : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly CapturingLoggerProvider _logs;

    private RunningDaemon(IHost host, CapturingLoggerProvider logs, string deviceId, string brokerHost, int brokerPort, int? tlsPort)
    {
        _host = host;
        _logs = logs;
        DeviceId = deviceId;
        BrokerHost = brokerHost;
        BrokerPort = brokerPort;
        TlsPort = tlsPort;
    }

    public string DeviceId { get; }

    public string BrokerHost { get; }

    public int BrokerPort { get; }

    public int? TlsPort { get; }

    public IServiceProvider Services => _host.Services;

    public bool AllowErrors { get; set; }

    public IEnumerable<(LogLevel Level, string Category, EventId Id, string Message)> Logs => _logs.Entries;

    /// <summary>Starts a daemon on its embedded broker at a port the OS picked.</summary>
    public static Task<RunningDaemon> StartEmbeddedAsync(ITestOutputHelper output, IEnumerable<string>? args = null, Action<HostApplicationBuilder>? customize = null, bool withTls = false)
    {
        var port = FreePort.Next();
        int? tlsPort = withTls ? FreePort.Next() : null;
        var all = new List<string> { $"--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}" };
        if (tlsPort is { } tls)
        {
            all.Add($"--Mqtt:Broker:Tls:Port={tls}");
        }

        all.AddRange(args ?? []);
        return StartAsync(output, all, "127.0.0.1", port, tlsPort, customize);
    }

    /// <summary>Starts a daemon that connects to an external broker.</summary>
    public static Task<RunningDaemon> StartExternalAsync(ITestOutputHelper output, string host, int port, IEnumerable<string>? args = null, Action<HostApplicationBuilder>? customize = null)
    {
        var all = new List<string> { "--Mqtt:Mode=External", $"--Mqtt:External:Host={host}", $"--Mqtt:External:Port={port}", "--Mqtt:ReconnectInitialDelayMs=100", "--Mqtt:ReconnectMaxDelayMs=500" };
        all.AddRange(args ?? []);
        return StartAsync(output, all, host, port, null, customize);
    }

    private static async Task<RunningDaemon> StartAsync(ITestOutputHelper output, List<string> args, string host, int port, int? tlsPort, Action<HostApplicationBuilder>? customize)
    {
        var deviceId = args.FirstOrDefault(a => a.StartsWith("--Device:Id=", StringComparison.Ordinal))?["--Device:Id=".Length..];
        if (deviceId is null)
        {
            deviceId = $"test-{Guid.NewGuid():N}"[..13];
            args.Add($"--Device:Id={deviceId}");
        }

        var logs = new CapturingLoggerProvider(output);
        var built = DaemonHost.Build([.. args], builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Debug);
            builder.Logging.AddProvider(logs);
            customize?.Invoke(builder);
        });
        Assert.True(built.Succeeded, string.Join(Environment.NewLine, built.Problems));
        await built.Host!.StartAsync();
        return new RunningDaemon(built.Host, logs, deviceId, host, port, tlsPort);
    }

    public T Service<T>()
        where T : notnull => _host.Services.GetRequiredService<T>();

    public Task<ApplianceClient> ConnectAsync(string? username = null, string? password = null, bool tls = false) =>
        ApplianceClient.ConnectAsync(new ApplianceClientOptions
        {
            Host = BrokerHost,
            Port = tls ? TlsPort!.Value : BrokerPort,
            DeviceId = DeviceId,
            Username = username,
            Password = password,
            UseTls = tls,
            AllowUntrustedServerCertificate = tls,
        });

    public async Task StopAsync()
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _host.StopAsync(limit.Token);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _host.Dispose();
        if (!AllowErrors)
        {
            var errors = _logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category}[{e.Id.Id}] {e.Message}").ToList();
            Assert.True(errors.Count == 0, "The daemon logged errors:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }
    }
}
