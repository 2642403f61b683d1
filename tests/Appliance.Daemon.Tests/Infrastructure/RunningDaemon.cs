using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>
/// The real daemon host, started in this process with its own arguments. Disposing it stops the host and fails the test
/// if the daemon logged an error or a critical entry (unless the test allowed errors), or if a task exception went
/// unobserved meanwhile.
/// </summary>
internal sealed class RunningDaemon : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly CapturingLoggerProvider _logs;
    private readonly int _unobservedMark;

    private RunningDaemon(IHost host, CapturingLoggerProvider logs, int unobservedMark, string deviceId, string brokerHost, int brokerPort, int? tlsPort)
    {
        _host = host;
        _logs = logs;
        _unobservedMark = unobservedMark;
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

    /// <summary>Completes when the daemon logs a message that satisfies <paramref name="match"/> (or already did), within <paramref name="limit"/>.</summary>
    public Task WaitForLogAsync(Func<string, bool> match, TimeSpan limit) => _logs.WaitForAsync(match, limit);

    /// <summary>Starts a daemon whose embedded broker binds ports the OS picks (port 0), and reads back the ones it got.</summary>
    public static Task<RunningDaemon> StartEmbeddedAsync(ITestOutputHelper output, IEnumerable<string>? args = null, Action<HostApplicationBuilder>? customize = null, bool withTls = false)
    {
        var all = new List<string> { "--Mqtt:Mode=Embedded", "--Mqtt:Broker:Port=0" };
        if (withTls)
        {
            all.Add("--Mqtt:Broker:Tls:Port=0");
        }

        all.AddRange(args ?? []);
        return StartAsync(output, all, null, customize);
    }

    /// <summary>Starts a daemon that connects to an external broker.</summary>
    public static Task<RunningDaemon> StartExternalAsync(ITestOutputHelper output, string host, int port, IEnumerable<string>? args = null, Action<HostApplicationBuilder>? customize = null)
    {
        var all = new List<string> { "--Mqtt:Mode=External", $"--Mqtt:External:Host={host}", $"--Mqtt:External:Port={port}", "--Mqtt:ReconnectInitialDelayMs=100", "--Mqtt:ReconnectMaxDelayMs=500" };
        all.AddRange(args ?? []);
        return StartAsync(output, all, (host, port), customize);
    }

    /// <summary>Replaces the daemon's clock: for tests that move time themselves.</summary>
    public static Action<HostApplicationBuilder> WithClock(TimeProvider time) => builder => builder.Services.AddSingleton(time);

    private static async Task<RunningDaemon> StartAsync(ITestOutputHelper output, List<string> args, (string Host, int Port)? external, Action<HostApplicationBuilder>? customize)
    {
        // Each daemon its own meetings folder, as the store's lock demands (tests run side by side).
        if (!args.Any(a => a.StartsWith("--Meetings:Root=", StringComparison.Ordinal)))
        {
            args.Add($"--Meetings:Root={Path.Combine(Path.GetTempPath(), "appliance-test-meetings-" + Guid.NewGuid().ToString("N"))}");
        }

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
        var mark = UnobservedTaskExceptions.Mark();
        await built.Host!.StartAsync();
        if (external is var (host, port))
        {
            return new RunningDaemon(built.Host, logs, mark, deviceId, host, port, null);
        }

        var broker = built.Host.Services.GetRequiredService<EmbeddedBroker>();
        return new RunningDaemon(built.Host, logs, mark, deviceId, broker.LocalEndpoint.Host, broker.LocalEndpoint.Port, broker.TlsPort);
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
        var unobserved = UnobservedTaskExceptions.Since(_unobservedMark);
        Assert.True(unobserved.Count == 0, "Task exceptions went unobserved:" + Environment.NewLine + string.Join(Environment.NewLine, unobserved));
        if (!AllowErrors)
        {
            var errors = _logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category}[{e.Id.Id}] {e.Message}").ToList();
            Assert.True(errors.Count == 0, "The daemon logged errors:" + Environment.NewLine + string.Join(Environment.NewLine, errors));
        }
    }
}
