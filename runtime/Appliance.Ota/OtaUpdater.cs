using Appliance.Contracts;
using Appliance.Storage;

namespace Appliance.Ota;

/// <summary>What a release must match on this device.</summary>
/// <param name="Profile">The device profile's <c>name</c>.</param>
/// <param name="Soc">The profile's <c>soc.model</c>.</param>
/// <param name="DaemonVersion">The daemon's version, <c>major.minor.patch</c>.</param>
public sealed record DeviceIdentity(string Profile, string Soc, string DaemonVersion);

/// <summary>Where the device keeps its OTA state and where it finds the repository.</summary>
public sealed record OtaUpdaterOptions
{
    /// <summary>The folder of the trusted metadata, the staging area and the slots; on the same filesystem, so a finished download moves without a copy.</summary>
    public required string Root { get; init; }

    /// <summary>The repository's base address: <c>root.json</c>, <c>timestamp.json</c>, … and <c>targets/</c> below it.</summary>
    public required Uri Repository { get; init; }

    /// <summary>The root metadata shipped with the firmware, trusted the first time; null once the device holds one.</summary>
    public string? InitialRoot { get; init; }

    /// <summary>The caps and the minimum rate of downloads.</summary>
    public FetchLimits Limits { get; init; } = new();
}

/// <summary>
/// The smoke test of a freshly installed slot, run before any switch: the model loads with the profile's
/// execution-provider chain and gives the token ids recorded at packaging. The daemon provides it; it runs real
/// ONNX Runtime sessions.
/// </summary>
public interface ISmokeTest
{
    /// <summary>Tests the model at <paramref name="path"/> (the slot's folder, or its entry file) for <paramref name="target"/>.</summary>
    /// <returns>Null when it passed, else why not, for the technician.</returns>
    Task<string?> RunAsync(string path, ModelTarget target, CancellationToken cancellationToken);
}

/// <summary>One step of an update, as <c>ota/progress</c> reports it.</summary>
/// <param name="Stage">One of <see cref="OtaStageNames"/>.</param>
/// <param name="Bundle">The bundle, once chosen.</param>
/// <param name="Release">Its release, once chosen.</param>
/// <param name="File">The target being downloaded, installed or tested.</param>
/// <param name="Bytes">Bytes of the bundle downloaded so far.</param>
/// <param name="TotalBytes">The bundle's bytes in all.</param>
/// <param name="BytesPerSecond">The download rate.</param>
/// <param name="Refusal">Why the update stopped, at stage <c>refused</c>.</param>
public sealed record OtaProgress(string Stage, string? Bundle = null, int? Release = null, string? File = null, long Bytes = 0, long TotalBytes = 0, double BytesPerSecond = 0, OtaRefusal? Refusal = null);

/// <summary>An <see cref="IProgress{T}"/> that reports on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool, where a late report could overtake a later stage).</summary>
internal sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

/// <summary>What a check found: the bundle this device would install, or why there is none.</summary>
/// <param name="Bundle">The bundle's name, or null.</param>
/// <param name="Release">Its release.</param>
/// <param name="Targets">Its targets, with their signed metadata.</param>
/// <param name="Refusal">Why the repository or the bundle is refused; null when <see cref="Bundle"/> can be installed or the device is up to date.</param>
public sealed record BundleCheck(string? Bundle, int Release, IReadOnlyDictionary<string, TargetFile> Targets, OtaRefusal? Refusal)
{
    /// <summary>Whether there is a newer bundle for this device.</summary>
    public bool UpdateAvailable => Bundle is not null && Refusal is null && Targets.Count > 0;
}

/// <summary>
/// The device's updater: check the repository (TUF workflow), choose the bundle for this device, download its targets
/// into the staging area, unpack them into the inactive slots, smoke-test them, and switch all at once. Every refusal
/// comes back as an <see cref="OtaRefusal"/>, and leaves the active slots as they were. One update at a time: calls
/// are serialized inside.
/// </summary>
public sealed class OtaUpdater : IDisposable
{
    private readonly OtaUpdaterOptions _options;
    private readonly DeviceIdentity _device;
    private readonly ISmokeTest _smokeTest;
    private readonly RepositoryFetcher _fetcher;
    private readonly MetadataUpdater _metadata;
    private readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Creates the updater; <paramref name="slots"/> must live under <see cref="OtaUpdaterOptions.Root"/>'s filesystem.</summary>
    /// <param name="options">Folders and repository.</param>
    /// <param name="device">What releases must match.</param>
    /// <param name="slots">The slots, owned by the caller and used only under this updater's lock while an update runs.</param>
    /// <param name="smokeTest">The smoke test of new slots.</param>
    /// <param name="http">The HTTP client, owned by the caller.</param>
    /// <param name="time">The clock of expiry checks and rates.</param>
    public OtaUpdater(OtaUpdaterOptions options, DeviceIdentity device, SlotStore slots, ISmokeTest smokeTest, HttpClient http, TimeProvider time)
    {
        _options = options;
        _device = device;
        Slots = slots;
        _smokeTest = smokeTest;
        var repository = options.Repository.AbsoluteUri.EndsWith('/') ? options.Repository : new Uri(options.Repository.AbsoluteUri + "/");
        _fetcher = new RepositoryFetcher(http, repository, time, options.Limits);
        _metadata = new MetadataUpdater(Path.Combine(options.Root, "metadata"), _fetcher, time);
    }

    /// <summary>The slots this updater fills.</summary>
    public SlotStore Slots { get; }

    /// <inheritdoc />
    public void Dispose() => _gate.Dispose();

    private string StagingDirectory => Path.Combine(_options.Root, "staging");

    /// <summary>Reads the repository and says what this device would install.</summary>
    public async Task<BundleCheck> CheckAsync(string? bundle, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await CheckLockedAsync(bundle, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Checks, and when a bundle for this device is newer, downloads, installs, smoke-tests and switches to it. The
    /// health window then runs: the owner counts requests (<see cref="SlotStore.CountRequest"/>) and commits or rolls back.
    /// </summary>
    /// <param name="bundle">The bundle to install, or null for the newest one for this device.</param>
    /// <param name="progress">Receives every stage; called on the updater's thread.</param>
    /// <param name="cancellationToken">Stops the update; a partial download is kept for the next attempt.</param>
    /// <returns>The last stage: <c>health_window</c> after a switch, <c>up_to_date</c>, or <c>refused</c> with the reason.</returns>
    public async Task<OtaProgress> UpdateAsync(string? bundle, IProgress<OtaProgress>? progress, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var last = await UpdateLockedAsync(bundle, progress, cancellationToken).ConfigureAwait(false);
            progress?.Report(last);
            return last;
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<BundleCheck> CheckLockedAsync(string? bundleName, CancellationToken cancellationToken)
    {
        TargetsMetadata targets;
        try
        {
            targets = await _metadata.RefreshAsync(_options.InitialRoot, cancellationToken).ConfigureAwait(false);
        }
        catch (OtaRefusedException e)
        {
            return new BundleCheck(null, 0, new Dictionary<string, TargetFile>(), e.Refusal);
        }
        catch (IOException e)
        {
            // The network's failures are refusals already: what is left is the device's own disk.
            return new BundleCheck(null, 0, new Dictionary<string, TargetFile>(), new OtaRefusal(DiskFull.Is(e) ? OtaRefusalCode.StorageFull : OtaRefusalCode.StorageError, e.Message));
        }
        catch (UnauthorizedAccessException e)
        {
            return new BundleCheck(null, 0, new Dictionary<string, TargetFile>(), new OtaRefusal(OtaRefusalCode.StorageError, e.Message));
        }

        var chosen = bundleName is not null
            ? targets.Bundles.TryGetValue(bundleName, out var named) ? (bundleName, named) : default
            : Choose(targets);
        if (chosen.named is null)
        {
            var refusal = bundleName is not null
                ? new OtaRefusal(OtaRefusalCode.UnsignedTarget, $"targets.json signs no bundle named {bundleName}")
                : null;
            return new BundleCheck(null, 0, new Dictionary<string, TargetFile>(), refusal);
        }

        var (name, bundle) = chosen;
        return new BundleCheck(name, bundle.Release, Members(targets, name, bundle, out var problem), problem);
    }

    /// <summary>The newest bundle this device can take; when none fits, the newest of all, so that the check says why it does not.</summary>
    private (string name, Bundle? named) Choose(TargetsMetadata targets)
    {
        var ordered = targets.Bundles.OrderByDescending(b => b.Value.Release).ThenBy(b => b.Key, StringComparer.Ordinal).ToList();
        foreach (var (name, bundle) in ordered)
        {
            Members(targets, name, bundle, out var problem);
            if (problem is null || problem.Code is OtaRefusalCode.Rollback)
            {
                return (name, bundle);
            }
        }

        return ordered.Count > 0 ? (ordered[0].Key, ordered[0].Value) : default;
    }

    /// <summary>The bundle's targets that differ from what the device runs, with the first reason to refuse the bundle.</summary>
    private Dictionary<string, TargetFile> Members(TargetsMetadata targets, string name, Bundle bundle, out OtaRefusal? problem)
    {
        problem = null;
        var members = new Dictionary<string, TargetFile>(StringComparer.Ordinal);
        var features = new HashSet<string>(StringComparer.Ordinal);
        var state = Slots.State;
        foreach (var path in bundle.Targets)
        {
            if (!targets.Targets.TryGetValue(path, out var target))
            {
                problem = new OtaRefusal(OtaRefusalCode.UnsignedTarget, $"bundle {name} names {path}, which targets.json does not sign");
                return [];
            }

            if (Incompatible(target.Custom) is { } why)
            {
                problem = new OtaRefusal(OtaRefusalCode.Incompatible, $"bundle {name}: {path} {why}");
                return [];
            }

            if (!target.Hashes.ContainsKey("sha256") || target.Length < 0 || !OtaFeatures.All.Contains(target.Custom.Feature) || !features.Add(target.Custom.Feature))
            {
                problem = new OtaRefusal(OtaRefusalCode.Malformed, $"bundle {name}: {path} has no SHA-256, a negative length, an unknown feature \"{target.Custom.Feature}\", or a feature another of its targets fills");
                return [];
            }

            if (state.Features.TryGetValue(target.Custom.Feature, out var active))
            {
                if (target.Custom.Release < active.Release)
                {
                    problem = new OtaRefusal(OtaRefusalCode.Rollback, $"bundle {name}: {path} is release {target.Custom.Release} of {target.Custom.Feature}, older than the running release {active.Release}");
                    return [];
                }

                if (active.Sha256 == target.Hashes["sha256"])
                {
                    continue;
                }
            }

            members[path] = target;
        }

        var floor = Math.Max(state.BundleRelease, state.LastRollback?.Release ?? 0);
        if (bundle.Release < floor || (bundle.Release == floor && (state.Bundle == name || state.LastRollback?.Bundle == name) && members.Count > 0))
        {
            problem = new OtaRefusal(OtaRefusalCode.Rollback, $"bundle {name} release {bundle.Release} is not newer than release {floor} that this device ran or rolled back from");
            return [];
        }

        return members;
    }

    private string? Incompatible(ModelTarget target)
    {
        if (target.Socs.Count > 0 && !target.Socs.Contains(_device.Soc, StringComparer.OrdinalIgnoreCase))
        {
            return $"is for SoC {string.Join(", ", target.Socs)}; this device is {_device.Soc}";
        }

        if (target.Profiles.Count > 0 && !target.Profiles.Contains(_device.Profile, StringComparer.Ordinal))
        {
            return $"is for profile {string.Join(", ", target.Profiles)}; this device runs {_device.Profile}";
        }

        if (!Version.TryParse(target.MinDaemonVersion, out var needed))
        {
            return $"names minimum daemon version \"{target.MinDaemonVersion}\", which is not major.minor.patch";
        }

        // A pre-release (1.2.0-rc.1) counts as its release; build metadata is ignored (semantic versioning).
        return Version.TryParse(_device.DaemonVersion.Split('-', '+')[0], out var have) && have < needed
            ? $"needs daemon {target.MinDaemonVersion}; this device runs {_device.DaemonVersion}"
            : null;
    }

    private async Task<OtaProgress> UpdateLockedAsync(string? bundleName, IProgress<OtaProgress>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new OtaProgress(OtaStageNames.Checking, bundleName));
        var check = await CheckLockedAsync(bundleName, cancellationToken).ConfigureAwait(false);
        if (check.Refusal is { } refused)
        {
            return new OtaProgress(OtaStageNames.Refused, check.Bundle, check.Bundle is null ? null : check.Release, Refusal: refused);
        }

        if (!check.UpdateAvailable)
        {
            return new OtaProgress(OtaStageNames.UpToDate, Slots.State.Bundle, Slots.State.BundleRelease);
        }

        if (Slots.State.Trial is not null)
        {
            return new OtaProgress(OtaStageNames.Refused, check.Bundle, check.Release, Refusal: new OtaRefusal(OtaRefusalCode.Busy, "the health window of the last switch is still running"));
        }

        var bundle = check.Bundle!;
        try
        {
            var staged = await DownloadAsync(bundle, check.Release, check.Targets, progress, cancellationToken).ConfigureAwait(false);
            var installed = new Dictionary<string, SlotEntry>(StringComparer.Ordinal);
            foreach (var (path, target) in check.Targets)
            {
                progress?.Report(new OtaProgress(OtaStageNames.Installing, bundle, check.Release, path));
                installed[target.Custom.Feature] = await Slots.InstallAsync(path, target, staged[path], cancellationToken).ConfigureAwait(false);
            }

            foreach (var (path, target) in check.Targets)
            {
                progress?.Report(new OtaProgress(OtaStageNames.SmokeTest, bundle, check.Release, path));
                var entry = installed[target.Custom.Feature];
                if (await _smokeTest.RunAsync(Slots.SlotPath(target.Custom.Feature, entry.Slot, entry.Entry), target.Custom, cancellationToken).ConfigureAwait(false) is { } failure)
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.SmokeTestFailed, $"{path}: {failure}; the running models stay");
                }
            }

            Slots.Switch(bundle, check.Release, installed);
            foreach (var file in staged.Values)
            {
                File.Delete(file);
            }

            return new OtaProgress(OtaStageNames.HealthWindow, bundle, check.Release);
        }
        catch (OtaRefusedException e)
        {
            return new OtaProgress(OtaStageNames.Refused, bundle, check.Release, Refusal: e.Refusal);
        }
        catch (IOException e)
        {
            return new OtaProgress(OtaStageNames.Refused, bundle, check.Release, Refusal: new OtaRefusal(DiskFull.Is(e) ? OtaRefusalCode.StorageFull : OtaRefusalCode.StorageError, e.Message));
        }
        catch (UnauthorizedAccessException e)
        {
            return new OtaProgress(OtaStageNames.Refused, bundle, check.Release, Refusal: new OtaRefusal(OtaRefusalCode.StorageError, e.Message));
        }
    }

    /// <summary>Deletes partial downloads of targets this bundle does not name (abandoned by an earlier update).</summary>
    private void DropAbandonedDownloads(IReadOnlyDictionary<string, TargetFile> targets)
    {
        var wanted = targets.Values.Select(t => t.Hashes["sha256"] + ".part").ToHashSet(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(StagingDirectory).Where(f => !wanted.Contains(Path.GetFileName(f))))
        {
            File.Delete(file);
        }
    }

    private async Task<Dictionary<string, string>> DownloadAsync(string bundle, int release, IReadOnlyDictionary<string, TargetFile> targets, IProgress<OtaProgress>? progress, CancellationToken cancellationToken)
    {
        AtomicFile.CreateDirectory(StagingDirectory);
        DropAbandonedDownloads(targets);
        var total = targets.Values.Sum(t => t.Length);
        long done = 0;
        var staged = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, target) in targets)
        {
            var part = Path.Combine(StagingDirectory, target.Hashes["sha256"] + ".part");
            var before = done;
            var reporter = progress is null ? null : new InlineProgress<FetchProgress>(p => progress.Report(new OtaProgress(OtaStageNames.Downloading, bundle, release, path, before + p.Bytes, total, p.BytesPerSecond)));
            progress?.Report(new OtaProgress(OtaStageNames.Downloading, bundle, release, path, done, total));
            await _fetcher.DownloadAsync("targets/" + path, part, target.Length, FileDigest.Sha256(target.Hashes["sha256"]), reporter, cancellationToken).ConfigureAwait(false);
            staged[path] = part;
            done += target.Length;
        }

        return staged;
    }
}
