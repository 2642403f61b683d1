using Appliance.Daemon.Device;
using Appliance.Daemon.Hardware;
using Appliance.Daemon.Llm;
using Appliance.Daemon.Meetings;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Ota;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Speech;
using Appliance.Daemon.Status;
using Appliance.Daemon.Voice;
using Appliance.Profiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Daemon;

/// <summary>Either a host ready to run, or the reasons the configuration was refused.</summary>
internal sealed record DaemonBuildResult(IHost? Host, IReadOnlyList<string> Problems)
{
    public bool Succeeded => Host is not null;
}

/// <summary>
/// Builds the daemon: configuration (appsettings.json, environment, command line), the device profile, and one
/// registration per feature. Hosted services start in registration order and stop in the reverse one: the MQTT endpoint
/// first up and last down, the request dispatcher last up and first down (so no request reaches a feature that stops).
/// Tests build the same host with their own arguments.
/// </summary>
internal static class DaemonHost
{
    public static DaemonBuildResult Build(string[] args, Action<HostApplicationBuilder>? customize = null)
    {
        try
        {
            return BuildHost(args, customize);
        }
        catch (InvalidOperationException ex) when (BindingProblem(ex) is { } problem)
        {
            return new DaemonBuildResult(null, [problem]);
        }
    }

    /// <summary>
    /// What the configuration binder's failure says, when <paramref name="exception"/> is one: a value that is not of its
    /// setting's type (a word for a number or an enum), with the key, the value and the reason; null otherwise.
    /// </summary>
    private static string? BindingProblem(Exception exception)
    {
        if (exception is not InvalidOperationException || !exception.Message.StartsWith("Failed to convert configuration value", StringComparison.Ordinal))
        {
            return null;
        }

        // The converter's reasons, outermost first ("Bogus is not a valid value for SpinPolicy. Requested value 'Bogus'
        // was not found."), each said once.
        var reasons = new List<string> { exception.Message };
        for (var reason = exception.InnerException; reason is not null; reason = reason.InnerException)
        {
            var sentence = reason.Message.EndsWith('.') ? reason.Message : reason.Message + ".";
            if (!reasons.Contains(sentence, StringComparer.Ordinal))
            {
                reasons.Add(sentence);
            }
        }

        return string.Join(' ', reasons);
    }

    private static DaemonBuildResult BuildHost(string[] args, Action<HostApplicationBuilder>? customize)
    {
        // appsettings.json is read once, not watched: a file watcher is an operating-system resource (an inotify
        // instance) that a board may not have to spare, and the daemon takes no new settings while it runs anyway.
        var settings = new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory, Configuration = new ConfigurationManager() };
        settings.Configuration.AddInMemoryCollection([new("hostBuilder:reloadConfigOnChange", "false")]);
        var builder = Host.CreateApplicationBuilder(settings);

        var configuration = builder.Configuration;
        var profilesDirectory = configuration["ProfilesDirectory"] is { Length: > 0 } dir ? dir : Path.Combine(AppContext.BaseDirectory, "device-profiles");
        var profilePath = DeviceProfileLoader.Resolve(configuration["Profile"] is { Length: > 0 } name ? name : DeviceProfileLoader.DefaultProfileName, profilesDirectory);
        var loaded = DeviceProfileLoader.Load(profilePath);
        if (loaded.Profile is not { } declaredProfile)
        {
            return new DaemonBuildResult(null, [.. loaded.Problems.Select(p => p.ToString())]);
        }

        // Before any model loads: a crash loop after an update goes back first, and installed models replace the profile's.
        var (otaSlots, profile, otaProblem) = OtaSlots.Open(configuration, declaredProfile, TimeProvider.System);
        if (otaSlots is null)
        {
            return new DaemonBuildResult(null, [otaProblem!]);
        }

        var services = builder.Services;
        services.AddSystemd();
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(15));
        if (services.AddDevice(configuration, profile) is { } deviceProblem)
        {
            return new DaemonBuildResult(null, [deviceProblem]);
        }

        services.AddMqtt(configuration);
        services.AddStatus(configuration);
        services.AddLlm(configuration);
        services.AddSpeech(profile);
        services.AddVoice();
        services.AddMeetings(configuration, profile);
        services.AddOta(configuration, otaSlots);
        services.AddHardware(configuration, profile);
        services.AddRpc(configuration);
        services.AddHostIntegration();

        customize?.Invoke(builder);
        // Misspelt keys and values of the wrong type are named together, so one start says all that is wrong.
        List<string> problems = [.. ConfigurationKeys.Unknown(builder.Configuration, services), .. UnconvertibleValues(builder.Configuration, services)];
        if (problems.Count > 0)
        {
            return new DaemonBuildResult(null, problems);
        }

        return new DaemonBuildResult(builder.Build(), []);
    }

    /// <summary>
    /// Binds every known section once before the host is built, so that a value of the wrong type is refused here, one
    /// line per section, and not while the host starts (where the hosting framework would first log the binder's
    /// exception with its whole stack).
    /// </summary>
    private static List<string> UnconvertibleValues(ConfigurationManager configuration, IServiceCollection services)
    {
        var problems = new List<string>();
        foreach (var section in ConfigurationKeys.KnownSections(services).Values)
        {
            try
            {
                configuration.GetSection(section.Name).Get(section.OptionsType);
            }
            catch (InvalidOperationException ex) when (BindingProblem(ex) is { } problem)
            {
                problems.Add(problem);
            }
        }

        return problems;
    }
}
