using System.Formats.Tar;
using System.Text.Json;
using Appliance.Storage;

namespace Appliance.Ota;

/// <summary>
/// The A/B model slots of a device under one folder: <c>slots/{feature}/a</c> and <c>b</c>, and <c>state.json</c>
/// naming the active ones. An install writes only the inactive slot of a feature; a switch of a whole bundle is one
/// atomic replacement of <c>state.json</c>; a rollback is another. So a power cut at any point leaves a state whose
/// slots are complete. Not thread-safe: the owner serializes calls.
/// </summary>
public sealed class SlotStore
{
    private const string ManifestName = "slot.json";
    private readonly string _root;
    private readonly TimeProvider _time;

    /// <summary>Opens the slots under <paramref name="root"/> (created when missing) and reads their state (see <see cref="StateDamage"/>).</summary>
    /// <exception cref="IOException">The folder cannot be created.</exception>
    public SlotStore(string root, TimeProvider time)
    {
        _root = Path.GetFullPath(root);
        _time = time;
        AtomicFile.CreateDirectory(_root);
        State = ReadState();
    }

    /// <summary>The state as last written.</summary>
    public SlotState State { get; private set; }

    private string StatePath => Path.Combine(_root, "state.json");

    /// <summary>The second copy, written after the first: a file damaged on the disk (not a cut write, which the atomic rename rules out) leaves the other.</summary>
    private string CopyPath => Path.Combine(_root, "state.copy.json");

    /// <summary>Why the state was read from its second copy or started empty, or null when <c>state.json</c> was whole.</summary>
    public string? StateDamage { get; private set; }

    /// <summary>The folder, or file for a one-file model, that <paramref name="feature"/> loads; null when no update has filled it and the profile's model applies.</summary>
    public string? ActivePath(string feature) =>
        State.Features.TryGetValue(feature, out var entry) ? SlotPath(feature, entry.Slot, entry.Entry) : null;

    /// <summary>The path of a slot, or of its entry file.</summary>
    public string SlotPath(string feature, string slot, string? entry = null)
    {
        var folder = Path.Combine(_root, "slots", feature, slot);
        return entry is null ? folder : Path.Combine(folder, entry);
    }

    /// <summary>The slot an install of <paramref name="feature"/> writes: the one not active.</summary>
    public string InactiveSlot(string feature) => State.Features.TryGetValue(feature, out var entry) && entry.Slot == "a" ? "b" : "a";

    /// <summary>
    /// Unpacks target <paramref name="targetName"/> (a tar archive at <paramref name="archive"/>) into the inactive slot
    /// of its feature, flushes every file, and writes the slot's manifest last. The active slot is not touched.
    /// </summary>
    /// <returns>The entry that <see cref="Switch"/> makes active.</returns>
    /// <exception cref="OtaRefusedException"><see cref="OtaRefusalCode.Busy"/> during a health window,
    /// <see cref="OtaRefusalCode.StorageFull"/> when the disk is full, <see cref="OtaRefusalCode.Malformed"/> for an
    /// archive with links, devices, or paths outside the slot.</exception>
    internal async Task<SlotEntry> InstallAsync(string targetName, TargetFile target, string archive, CancellationToken cancellationToken)
    {
        if (State.Trial is not null)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Busy, "a health window is running; the previous models are kept in the other slots until it ends");
        }

        if (State.Previous is not null)
        {
            // The inactive slots are about to be overwritten: the models a rollback would return to go with them.
            Write(State with { Previous = null });
        }

        var feature = target.Custom.Feature;
        var slot = InactiveSlot(feature);
        var folder = SlotPath(feature, slot);
        var fresh = folder + ".new";
        try
        {
            AtomicFile.CreateDirectory(Path.GetDirectoryName(folder)!);
            DeleteFolder(fresh);
            DeleteFolder(folder);
            Directory.CreateDirectory(fresh);
            var files = await UnpackAsync(targetName, archive, fresh, cancellationToken).ConfigureAwait(false);
            if (target.Custom.Entry is { } entry && !files.ContainsKey(entry))
            {
                throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"targets/{targetName}: holds no {entry}, the file its feature loads");
            }

            var manifest = new SlotManifest(targetName, target.Hashes["sha256"], files);
            AtomicFile.Write(Path.Combine(fresh, ManifestName), JsonSerializer.SerializeToUtf8Bytes(manifest, OtaJson.Default.SlotManifest));
            Directory.Move(fresh, folder);
            AtomicFile.FlushDirectory(Path.GetDirectoryName(folder)!);
        }
        catch (IOException e) when (DiskFull.Is(e))
        {
            DeleteFolder(fresh);
            throw OtaRefusedException.Of(OtaRefusalCode.StorageFull, $"targets/{targetName}: no room to unpack into slot {feature}/{slot} ({e.Message})");
        }

        return new SlotEntry(slot, target.Custom.ModelId, target.Custom.Release, targetName, target.Hashes["sha256"], target.Custom.Entry);
    }

    /// <summary>Makes <paramref name="installed"/> active at once, as bundle <paramref name="bundle"/>, and opens its health window.</summary>
    /// <exception cref="IOException">The state could not be written; the previous one stays.</exception>
    internal void Switch(string bundle, int release, IReadOnlyDictionary<string, SlotEntry> installed)
    {
        var features = new Dictionary<string, SlotEntry>(State.Features);
        foreach (var (feature, entry) in installed)
        {
            features[feature] = entry;
        }

        Write(new SlotState
        {
            Bundle = bundle,
            BundleRelease = release,
            Features = features,
            Previous = State with { Previous = null, Trial = null },
            Trial = new SlotTrial { SwitchedAt = _time.GetUtcNow() },
            LastRollback = State.LastRollback,
        });
    }

    /// <summary>Ends the health window: the new models stay. Nothing happens without one.</summary>
    public void Commit()
    {
        if (State.Trial is not null)
        {
            Write(State with { Trial = null });
        }
    }

    /// <summary>Counts a request served in the health window; returns the count, or 0 without a window.</summary>
    public int CountRequest()
    {
        if (State.Trial is not { } trial)
        {
            return 0;
        }

        Write(State with { Trial = trial with { RequestsServed = trial.RequestsServed + 1 } });
        return trial.RequestsServed + 1;
    }

    /// <summary>
    /// Goes back to the models before the last switch, during its health window or after it, and records why. The
    /// device refuses the release it left from then on.
    /// </summary>
    /// <returns>False when there is nothing to go back to.</returns>
    public bool Rollback(string reason)
    {
        if (State.Previous is not { } previous || State.Bundle is null)
        {
            return false;
        }

        Write(previous with { Previous = null, Trial = null, LastRollback = new RollbackRecord(State.Bundle, State.BundleRelease, reason, _time.GetUtcNow()) });
        return true;
    }

    /// <summary>
    /// Called once at every start, before the models load. During a health window it counts the start; past
    /// <paramref name="maxStarts"/> starts the switch is taken for a crash loop and rolled back. An active slot whose
    /// files are not those its manifest lists (a torn write) is rolled back too.
    /// </summary>
    /// <returns>The reason of a rollback done now, or null.</returns>
    public string? RecordStart(int maxStarts)
    {
        string? reason = null;
        var crashLoop = false;
        if (State.Trial is { } trial)
        {
            if (trial.Starts + 1 > maxStarts)
            {
                reason = $"crash loop: {trial.Starts + 1} starts within the health window (at most {maxStarts})";
                crashLoop = Rollback(reason);
            }
            else
            {
                Write(State with { Trial = trial with { Starts = trial.Starts + 1 } });
            }
        }

        // The slots about to load, whole? A damaged one goes back to the previous set; without one, to the profile's models.
        for (var round = 0; round < 2; round++)
        {
            var damaged = State.Features.Select(f => (f.Key, f.Value, Problem: CheckSlot(f.Key, f.Value))).Where(f => f.Problem is not null).ToList();
            if (damaged.Count == 0)
            {
                return reason;
            }

            var damage = "damaged " + string.Join("; ", damaged.Select(d => $"slot {d.Key}/{d.Value.Slot}: {d.Problem}"));
            reason = reason is null ? damage : $"{reason}; {damage}";
            if (!Rollback(damage))
            {
                // The release may be installed again to repair the slots: no release floor is kept for it, except that of a
                // release this start left for a crash loop.
                var whole = State.Features.Where(f => damaged.All(d => d.Key != f.Key)).ToDictionary();
                var floor = crashLoop ? State.LastRollback! : new RollbackRecord(State.Bundle ?? "", 0, "", _time.GetUtcNow());
                Write(State with
                {
                    Features = whole,
                    Bundle = whole.Count == 0 ? null : State.Bundle,
                    BundleRelease = 0,
                    Trial = null,
                    LastRollback = floor with { Reason = (crashLoop ? floor.Reason + "; " : "") + damage + "; the profile's models are used", At = _time.GetUtcNow() },
                });
                return reason;
            }
        }

        return reason;
    }

    /// <summary>Why the slot of <paramref name="entry"/> is not whole (a missing manifest or file, a file of another length), or null when it is.</summary>
    public string? CheckSlot(string feature, SlotEntry entry)
    {
        var folder = SlotPath(feature, entry.Slot);
        var manifestPath = Path.Combine(folder, ManifestName);
        SlotManifest? manifest;
        try
        {
            manifest = File.Exists(manifestPath) ? JsonSerializer.Deserialize(File.ReadAllBytes(manifestPath), OtaJson.Default.SlotManifest) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            manifest = null;
        }

        if (manifest is null || manifest.Sha256 != entry.Sha256)
        {
            return $"its manifest is missing or names another target than {entry.Target}";
        }

        foreach (var (file, length) in manifest.Files)
        {
            var path = Path.Combine(folder, file);
            if (!File.Exists(path) || new FileInfo(path).Length != length)
            {
                return $"{file} is missing or not {length} bytes long";
            }
        }

        return null;
    }

    /// <summary>
    /// The state from <c>state.json</c>, else from its copy, else none: the profile's models, which every device keeps.
    /// A damaged state never stops the daemon.
    /// </summary>
    private SlotState ReadState()
    {
        if (!File.Exists(StatePath) && !File.Exists(CopyPath))
        {
            return new SlotState();
        }

        var problems = new List<string>();
        foreach (var path in (string[])[StatePath, CopyPath])
        {
            try
            {
                if (JsonSerializer.Deserialize(File.ReadAllBytes(path), OtaJson.Default.SlotState) is { } state)
                {
                    StateDamage = problems.Count == 0 ? null : string.Join("; ", problems);
                    return state;
                }

                problems.Add($"{path}: empty");
            }
            catch (Exception e) when (e is JsonException or IOException or InvalidOperationException)
            {
                problems.Add($"{path}: {e.Message}");
            }
        }

        StateDamage = string.Join("; ", problems) + "; the profile's models are used";
        return new SlotState();
    }

    private void Write(SlotState state)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(state, OtaJson.Default.SlotState);
        AtomicFile.Write(StatePath, bytes);
        AtomicFile.Write(CopyPath, bytes);
        State = state;
    }

    private static async Task<Dictionary<string, long>> UnpackAsync(string targetName, string archive, string folder, CancellationToken cancellationToken)
    {
        var files = new Dictionary<string, long>(StringComparer.Ordinal);
        var stream = File.OpenRead(archive);
        await using (stream.ConfigureAwait(false))
        {
            var reader = new TarReader(stream);
            await using (reader.ConfigureAwait(false))
            {
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken).ConfigureAwait(false) is { } entry)
                {
                    var name = entry.Name.Replace('\\', '/').TrimStart('.', '/');
                    if (name.Length == 0)
                    {
                        continue;
                    }

                    var path = Path.GetFullPath(Path.Combine(folder, name));
                    if (!path.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal) || name.Split('/').Contains(".."))
                    {
                        throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"targets/{targetName}: entry {entry.Name} points outside its slot");
                    }

                    switch (entry.EntryType)
                    {
                        case TarEntryType.Directory:
                            Directory.CreateDirectory(path);
                            break;
                        case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                            var output = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 64 * 1024, useAsync: true);
                            await using (output.ConfigureAwait(false))
                            {
                                if (entry.DataStream is { } data)
                                {
                                    await data.CopyToAsync(output, cancellationToken).ConfigureAwait(false);
                                }

                                output.Flush(flushToDisk: true);
                            }

                            files[name] = entry.Length;
                            break;
                        case TarEntryType.GlobalExtendedAttributes or TarEntryType.ExtendedAttributes:
                            break;
                        default:
                            throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"targets/{targetName}: entry {entry.Name} is a {entry.EntryType}; a model archive holds only files and folders");
                    }
                }
            }
        }

        foreach (var directory in Directory.EnumerateDirectories(folder, "*", SearchOption.AllDirectories).Append(folder))
        {
            AtomicFile.FlushDirectory(directory);
        }

        return files;
    }

    private static void DeleteFolder(string folder)
    {
        if (Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
