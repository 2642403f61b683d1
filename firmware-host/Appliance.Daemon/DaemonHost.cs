using System.Diagnostics;
using Appliance.Contracts;
using Appliance.Daemon.Hardware;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Meetings;
using Appliance.Daemon.Speech;
using Appliance.Hardware;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Status;
using Appliance.Inference;
using Appliance.Profiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon;

/// <summary>Either a host ready to run, or the reasons the configuration was refused.</summary>
public sealed record DaemonBuildResult(IHost? Host, IReadOnlyList<string> Problems)
{
    public bool Succeeded => Host is not null;
}

/// <summary>
/// Builds the daemon: configuration (appsettings.json, environment, command line), the device profile,
/// and the hosted services in start order (embedded broker, MQTT connection, RPC, status, hardware,
/// telemetry, watchdog). Tests build the same host with their own arguments.
/// </summary>
public static class DaemonHost
{
    public static DaemonBuildResult Build(string[] args, Action<HostApplicationBuilder>? customize = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });

        var configuration = builder.Configuration;
        var profilesDirectory = configuration["ProfilesDirectory"] is { Length: > 0 } dir ? dir : Path.Combine(AppContext.BaseDirectory, "device-profiles");
        var profilePath = DeviceProfileLoader.Resolve(configuration["Profile"] is { Length: > 0 } name ? name : DeviceProfileLoader.DefaultProfileName, profilesDirectory);
        var loaded = DeviceProfileLoader.Load(profilePath);
        if (loaded.Profile is not { } profile)
        {
            return new DaemonBuildResult(null, [.. loaded.Problems.Select(p => p.ToString())]);
        }

        var deviceId = configuration[$"{DeviceOptions.Section}:Id"] is { Length: > 0 } configured ? configured : profile.DeviceId ?? DeviceIdFromHostName();
        if (!Topics.IsValidDeviceId(deviceId))
        {
            return new DaemonBuildResult(null, [$"Device:Id '{deviceId}' is not a valid device id: use 1-64 letters, digits, '-' or '_'."]);
        }

        var executionProvider = ExecutionProviderSelector.Choose(profile.ExecutionProviders, [.. ExecutionProviderSelector.InstalledProviders()]);

        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        builder.Services.TryAddSingletonTimeProvider();
        builder.Services.AddSingleton(sp => new DeviceContext(deviceId, profile, executionProvider, sp.GetRequiredService<TimeProvider>().GetUtcNow()));
        builder.Services.AddSingleton<HealthMonitor>();

        AddValidatedOptions<MqttOptions, MqttOptionsValidator>(builder, MqttOptions.Section);
        AddValidatedOptions<RpcOptions, RpcOptionsValidator>(builder, RpcOptions.Section);
        AddValidatedOptions<StatusOptions, StatusOptionsValidator>(builder, StatusOptions.Section);
        AddValidatedOptions<SimulationOptions, SimulationOptionsValidator>(builder, SimulationOptions.Section);
        AddValidatedOptions<LlmOptions, LlmOptionsValidator>(builder, LlmOptions.Section);
        AddValidatedOptions<MeetingsOptions, MeetingsOptionsValidator>(builder, MeetingsOptions.Section);
        builder.Services.Configure<ModelsOptions>(configuration.GetSection(ModelsOptions.Section));

        // Hosted services start in this order and stop in the reverse one: the broker first up and last down.
        var embedded = configuration.GetValue<MqttMode?>($"{MqttOptions.Section}:Mode") is null or MqttMode.Embedded;
        if (embedded)
        {
            builder.Services.AddSingleton<EmbeddedBroker>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }

        builder.Services.AddSingleton(sp => new MqttConnection(
            sp.GetRequiredService<IOptions<MqttOptions>>(),
            sp.GetRequiredService<DeviceContext>(),
            sp.GetRequiredService<HealthMonitor>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<MqttConnection>>(),
            sp.GetService<EmbeddedBroker>()));
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MqttConnection>());

        builder.Services.AddSingleton<StatusPublisher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<StatusPublisher>());
        builder.Services.AddSingleton<IRpcMethod, StatusGetMethod>();
        builder.Services.AddSingleton<IRpcMethod, ProfileGetMethod>();
        builder.Services.AddSingleton<IRpcMethod, HealthGetMethod>();
        builder.Services.AddHostedService<RpcDispatcher>();

        builder.Services.AddSingleton<LlmHost>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LlmHost>());
        builder.Services.AddSingleton<IRpcMethod, LlmChatMethod>();
        builder.Services.AddSingleton<IRpcMethod, LlmCancelMethod>();
        builder.Services.AddSingleton<IRpcMethod, ModelsListMethod>();
        builder.Services.AddSingleton<IRpcMethod, ModelsLoadMethod>();
        builder.Services.AddSingleton<IRpcMethod, ModelsUnloadMethod>();
        builder.Services.AddSingleton<IRpcMethod, ModelsSelectMethod>();

        builder.Services.AddSingleton<SpeechHost>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<SpeechHost>());
        builder.Services.AddSingleton<AsrRequests>();
        builder.Services.AddSingleton<IRpcMethod, AsrTranscribeMethod>();
        builder.Services.AddSingleton<IRpcMethod, AsrCancelMethod>();
        builder.Services.AddSingleton<IMicrophone>(sp => profile.Audio.Device is { Length: > 0 } alsa && alsa != "simulated"
            ? new AlsaMicrophone(alsa, profile.Audio.SampleRate, profile.Audio.Channels)
            : new SimulatedMicrophone(profile.Audio.SampleRate, profile.Audio.Channels, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<VoicePipeline>();

        builder.Services.AddSingleton<MeetingService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<MeetingService>());
        builder.Services.AddSingleton<IRpcMethod, MeetingsListMethod>();
        builder.Services.AddSingleton<IRpcMethod, MeetingsGetMethod>();
        builder.Services.AddSingleton<IRpcMethod, MeetingsDeleteMethod>();

        builder.Services.AddSingleton(sp => new BoardHardware(profile, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddHostedService<HardwareService>();
        builder.Services.AddHostedService<TelemetryService>();
        if (Microsoft.Extensions.Hosting.Systemd.SystemdHelpers.IsSystemdService())
        {
            builder.Services.AddHostedService<SystemdWatchdog>();
        }

        builder.Services.AddHostedService<ReadyAnnouncer>();

        customize?.Invoke(builder);
        return new DaemonBuildResult(builder.Build(), []);
    }

    private static void AddValidatedOptions<TOptions, TValidator>(HostApplicationBuilder builder, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        builder.Services.AddOptions<TOptions>().Bind(builder.Configuration.GetSection(section)).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
    }

    private static void TryAddSingletonTimeProvider(this IServiceCollection services)
    {
        if (!services.Any(d => d.ServiceType == typeof(TimeProvider)))
        {
            services.AddSingleton(TimeProvider.System);
        }
    }

    private static string DeviceIdFromHostName()
    {
        var cleaned = new string([.. Environment.MachineName.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-')]);
        return cleaned.Length is > 0 and <= 64 ? cleaned : "appliance";
    }
}

/// <summary>Logs the one line operators and scripts wait for, once every service has started.</summary>
internal sealed class ReadyAnnouncer(
    IHostApplicationLifetime lifetime,
    DeviceContext device,
    MqttConnection mqtt,
    IOptions<MqttOptions> mqttOptions,
    ILogger<ReadyAnnouncer> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() =>
        {
            using var process = Process.GetCurrentProcess();
            var sinceStart = DateTime.Now - process.StartTime;
            var options = mqttOptions.Value;
            var broker = options.Mode == MqttMode.Embedded
                ? $"embedded broker on {options.Broker.BindAddress}:{options.Broker.Port}" + (options.Broker.Tls.Enabled ? $" (TLS on {options.Broker.Tls.Port})" : "")
                : $"external broker {options.External.Host}:{options.External.Port}";
            foreach (var (name, reason) in device.ExecutionProvider.Skipped)
            {
                Log.ExecutionProviderSkipped(logger, name, reason);
            }

            Log.Ready(logger, (long)sinceStart.TotalMilliseconds, device.DeviceId, device.Profile.Name, broker, mqtt.IsConnected, device.ExecutionProvider.Chosen.Name);
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
