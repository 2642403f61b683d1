using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Ota;

/// <summary>The <c>Ota</c> configuration section: over-the-air model updates, off until <see cref="Repository"/> is set.</summary>
internal sealed class OtaOptions
{
    public const string Section = "Ota";

    /// <summary>The update repository's base address (http or https), where <c>timestamp.json</c> and <c>targets/</c> are; null turns updates off.</summary>
    public string? Repository { get; set; }

    /// <summary>The folder of the trusted metadata, the staging area and the A/B slots; by default <c>ota</c> under <c>Models:Root</c>, on the models' filesystem.</summary>
    public string? Root { get; set; }

    /// <summary>The root metadata shipped with the firmware, trusted on the first check; the device keeps its own copy from then on.</summary>
    public string? InitialRoot { get; set; }

    /// <summary>
    /// Minutes between scheduled checks, which install what they find. 0 (the default) checks only when told
    /// (<c>ota.check</c>, <c>ota.update</c>, a fleet announcement), so that a staged rollout decides when each device updates.
    /// </summary>
    [Range(0, 7 * 24 * 60)]
    public int CheckIntervalMinutes { get; set; }

    /// <summary>Requests served without an internal error after a switch that confirm the new models.</summary>
    [Range(1, 100_000)]
    public int HealthWindowRequests { get; set; } = 3;

    /// <summary>Minutes of one start after a switch, with every new model loaded, that confirm the new models without requests.</summary>
    [Range(1, 24 * 60)]
    public int HealthWindowMinutes { get; set; } = 10;

    /// <summary>Daemon starts within a health window after which the switch is taken for a crash loop and rolled back.</summary>
    [Range(1, 100)]
    public int MaxStarts { get; set; } = 3;

    /// <summary>The slowest rate a mirror may keep, in bytes per second.</summary>
    [Range(1, 1_000_000_000)]
    public double MinBytesPerSecond { get; set; } = 16 * 1024;

    /// <summary>The span over which the rate is measured, in seconds.</summary>
    [Range(1, 3600)]
    public int SpeedWindowSeconds { get; set; } = 10;

    /// <summary>Whether updates are configured.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Repository);

    /// <summary>The OTA folder, absolute.</summary>
    public string RootFolder(string modelsRoot) => Path.GetFullPath(Root is { Length: > 0 } root ? root : Path.Combine(modelsRoot, "ota"));
}

[OptionsValidator]
internal sealed partial class OtaOptionsDataValidator : IValidateOptions<OtaOptions>;

/// <summary>Checks the repository address beyond the ranges.</summary>
internal sealed class OtaOptionsValidator : IValidateOptions<OtaOptions>
{
    private readonly OtaOptionsDataValidator _data = new();

    public ValidateOptionsResult Validate(string? name, OtaOptions options)
    {
        var result = _data.Validate(name, options);
        if (result.Failed)
        {
            return result;
        }

        if (options.Enabled && !(Uri.TryCreate(options.Repository, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            return ValidateOptionsResult.Fail($"Ota:Repository '{options.Repository}' is not an http or https address");
        }

        return options.Enabled && options.InitialRoot is { Length: > 0 } initial && !File.Exists(initial)
            ? ValidateOptionsResult.Fail($"Ota:InitialRoot '{initial}' does not exist: it names the root.json the device trusts first (the repository's 1.root.json, shipped with the firmware)")
            : ValidateOptionsResult.Success;
    }
}
