using Appliance.Contracts;
using Appliance.Ota;
using Appliance.Profiles;
using Microsoft.Extensions.Configuration;

namespace Appliance.Daemon.Ota;

/// <summary>
/// The device's A/B model slots as the daemon runs them: opened once while the host is built, before any model loads,
/// so that a crash loop in a health window or a damaged slot is rolled back first, and so that every feature finds its
/// model where the last update put it (<see cref="Open"/> gives the profile with the installed models in place).
/// </summary>
internal sealed class OtaSlots
{
    private OtaSlots(OtaOptions options, string? root, SlotStore? store, string? rolledBackAtStart)
    {
        Options = options;
        Root = root;
        Store = store;
        RolledBackAtStart = rolledBackAtStart;
    }

    public OtaOptions Options { get; }

    /// <summary>The OTA folder, or null when updates are off.</summary>
    public string? Root { get; }

    /// <summary>The slots, or null when updates are off.</summary>
    public SlotStore? Store { get; }

    /// <summary>Why this start went back to the previous models (a crash loop, a damaged slot), or null.</summary>
    public string? RolledBackAtStart { get; }

    /// <summary>Raised after the slots changed (a switch, a confirmation, a rollback), so the status is republished.</summary>
    public event Action? Changed;

    /// <summary>
    /// Opens the slots when <c>Ota:Repository</c> is set, counts this start against a running health window, and
    /// returns <paramref name="profile"/> with each feature's model replaced by its installed slot.
    /// </summary>
    /// <returns>The slots and the profile to run, or why the slots cannot be opened.</returns>
    /// <exception cref="InvalidOperationException">A setting of the <c>Ota</c> section has a value of the wrong type.</exception>
    public static (OtaSlots? Slots, DeviceProfile Profile, string? Problem) Open(IConfiguration configuration, DeviceProfile profile, TimeProvider time)
    {
        // A value of the wrong type throws the binder's exception, which DaemonHost reports as every other section's.
        var options = configuration.GetSection(OtaOptions.Section).Get<OtaOptions>() ?? new OtaOptions();

        // Checked here, before they act (the start count), not only when the host starts.
        if (new OtaOptionsValidator().Validate(null, options) is { Failed: true } invalid)
        {
            return (null, profile, invalid.FailureMessage);
        }

        if (!options.Enabled)
        {
            return (new OtaSlots(options, null, null, null), profile, null);
        }

        var root = options.RootFolder(configuration["Models:Root"] is { Length: > 0 } models ? models : "models");
        try
        {
            var store = new SlotStore(root, time);
            var rolledBack = store.RecordStart(options.MaxStarts);
            return (new OtaSlots(options, root, store, rolledBack), WithInstalledModels(profile, store), null);
        }
        catch (IOException e)
        {
            return (null, profile, $"Ota:Root {root}: the update slots cannot be opened: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            return (null, profile, $"Ota:Root {root}: the update slots cannot be opened: {e.Message}");
        }
    }

    /// <summary>The update state for <c>status</c> and <c>ota.status</c>; null when updates are off.</summary>
    public OtaState? State(OtaProgressEvent? lastProgress = null)
    {
        if (Store is null)
        {
            return null;
        }

        var state = Store.State;
        return new OtaState
        {
            Bundle = state.Bundle,
            Release = state.BundleRelease,
            Slots = [.. state.Features.OrderBy(f => f.Key, StringComparer.Ordinal).Select(f => new OtaSlotInfo(f.Key, f.Value.Slot, f.Value.ModelId, f.Value.Release))],
            HealthWindow = state.Trial is { } trial ? new OtaHealthWindowInfo(trial.SwitchedAt, trial.Starts, trial.RequestsServed) : null,
            LastRollback = state.LastRollback is { } r ? new OtaRollbackInfo(r.Bundle, r.Release, r.Reason, r.At) : null,
            LastProgress = lastProgress,
        };
    }

    /// <summary>The features whose model the last switch replaced.</summary>
    public IReadOnlyList<string> Switched()
    {
        if (Store?.State is not { } state)
        {
            return [];
        }

        return [.. state.Features.Where(f => state.Previous?.Features.GetValueOrDefault(f.Key)?.Sha256 != f.Value.Sha256).Select(f => f.Key)];
    }

    public void NotifyChanged() => Changed?.Invoke();

    private static DeviceProfile WithInstalledModels(DeviceProfile profile, SlotStore store)
    {
        ModelSpec? Installed(string feature, ModelSpec? declared) =>
            store.State.Features.TryGetValue(feature, out var entry) && store.ActivePath(feature) is { } path
                ? (declared ?? new ModelSpec { Id = entry.ModelId, Path = path }) with { Id = entry.ModelId, Path = path }
                : declared;

        var models = profile.Models;
        return profile with
        {
            Models = models with
            {
                Asr = Installed(OtaFeatures.Asr, models.Asr),
                Vad = Installed(OtaFeatures.Vad, models.Vad),
                WakeWord = Installed(OtaFeatures.WakeWord, models.WakeWord),
                VoiceLlm = Installed(OtaFeatures.VoiceLlm, models.VoiceLlm),
                SummaryLlm = Installed(OtaFeatures.SummaryLlm, models.SummaryLlm),
            },
        };
    }
}

/// <summary>Set when the daemon stops to come back on other models: the process then exits with <see cref="ExitCode"/>, which the service manager answers by starting it again.</summary>
internal sealed class DaemonRestart
{
    /// <summary>EX_TEMPFAIL (sysexits.h): a temporary stop; the sample systemd unit restarts on it.</summary>
    public const int ExitCode = 75;

    private volatile bool _requested;

    public bool Requested => _requested;

    public void Request() => _requested = true;
}
