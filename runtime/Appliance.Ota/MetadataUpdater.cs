using System.Security.Cryptography;
using System.Text.Json.Serialization.Metadata;
using Appliance.Storage;

namespace Appliance.Ota;

/// <summary>
/// The device's side of the TUF client workflow (TUF §5.3–5.6): it keeps the trusted metadata in a folder, follows
/// root rotations one version at a time, then takes timestamp, snapshot and targets, each checked for signatures
/// over its role's threshold, expiry, version order and consistency with the others. A refusal leaves the trusted
/// metadata as it was. Not thread-safe: one update at a time.
/// </summary>
internal sealed class MetadataUpdater(string directory, RepositoryFetcher fetcher, TimeProvider time)
{
    /// <summary>The most root versions one update follows; a repository that rotated more often is refused until a newer root is installed.</summary>
    public const int MaxRootRotations = 32;

    /// <summary>
    /// The trusted root: the device's own copy, or the one installed with the firmware (<paramref name="initialRoot"/>)
    /// when the copy is missing or damaged on the disk; the chain of rotations leads from there to the current root again.
    /// </summary>
    /// <exception cref="OtaRefusedException">Neither is valid root metadata signed by itself.</exception>
    public RootMetadata TrustedRoot(string? initialRoot)
    {
        var path = Path.Combine(directory, Roles.FileName(Roles.Root));
        if (File.Exists(path) && Verified(File.ReadAllBytes(path)) is { } stored)
        {
            return stored;
        }

        if (initialRoot is null || !File.Exists(initialRoot))
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Malformed, initialRoot is null
                ? $"no trusted root: {path} is missing or damaged, and Ota:InitialRoot (the root.json shipped with the firmware) is not set"
                : $"no trusted root: {path} is missing or damaged, and Ota:InitialRoot {initialRoot} does not exist");
        }

        var bytes = File.ReadAllBytes(initialRoot);
        var initial = Verified(bytes) ?? throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"{initialRoot}: not root metadata signed by its own root keys");
        AtomicFile.CreateDirectory(directory);
        AtomicFile.Write(path, bytes);
        return initial;

        static RootMetadata? Verified(byte[] bytes)
        {
            try
            {
                var root = MetadataFile.Parse(Roles.FileName(Roles.Root), bytes, Roles.Root, OtaJson.Default.RootMetadata);
                MetadataFile.CheckRoot(root.FileName, root.Signed);
                MetadataFile.RequireThreshold(root, root.Signed, Roles.Root);
                return root.Signed;
            }
            catch (OtaRefusedException)
            {
                return null;
            }
        }
    }

    /// <summary>Runs the workflow and returns the new trusted targets metadata.</summary>
    /// <exception cref="OtaRefusedException">Any step refused; the trusted metadata is as it was before the refused file.</exception>
    public async Task<TargetsMetadata> RefreshAsync(string? initialRoot, CancellationToken cancellationToken)
    {
        var limits = fetcher.Limits;
        var root = TrustedRoot(initialRoot);
        var firstRoot = root;

        // §5.3: follow the chain of roots; each must be signed by the previous root's keys and by its own.
        for (var step = 0; step < MaxRootRotations; step++)
        {
            var name = Roles.RootFileName(root.Version + 1);
            if (await fetcher.MetadataAsync(name, limits.RootMaxBytes, cancellationToken).ConfigureAwait(false) is not { } bytes)
            {
                break;
            }

            var next = MetadataFile.Parse(name, bytes, Roles.Root, OtaJson.Default.RootMetadata);
            MetadataFile.CheckRoot(name, next.Signed);
            MetadataFile.RequireThreshold(next, root, Roles.Root);
            MetadataFile.RequireThreshold(next, next.Signed, Roles.Root);
            if (next.Signed.Version != root.Version + 1)
            {
                throw OtaRefusedException.Of(OtaRefusalCode.Rollback, $"{name}: holds version {next.Signed.Version}, not {root.Version + 1}");
            }

            Store(Roles.FileName(Roles.Root), bytes);
            root = next.Signed;
        }

        RequireFresh(Roles.FileName(Roles.Root), root);

        // §5.3.11: after a rotation of the timestamp or snapshot keys, the old files are no longer a floor (fast-forward recovery).
        if (Rotated(firstRoot, root, Roles.Timestamp) || Rotated(firstRoot, root, Roles.Snapshot))
        {
            Forget(Roles.Timestamp);
            Forget(Roles.Snapshot);
        }

        if (Rotated(firstRoot, root, Roles.Targets))
        {
            Forget(Roles.Targets);
        }

        // §5.4: timestamp.
        var timestampName = Roles.FileName(Roles.Timestamp);
        var timestampBytes = await fetcher.MetadataAsync(timestampName, limits.TimestampMaxBytes, cancellationToken).ConfigureAwait(false)
            ?? throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{timestampName}: not found at {fetcher.AddressOf(timestampName)} (HTTP 404); is that the repository's address (Ota:Repository), and has it been initialized?");
        var timestamp = MetadataFile.Parse(timestampName, timestampBytes, Roles.Timestamp, OtaJson.Default.TimestampMetadata);
        MetadataFile.RequireThreshold(timestamp, root, Roles.Timestamp);
        var snapshotName = Roles.FileName(Roles.Snapshot);
        if (!timestamp.Signed.Meta.TryGetValue(snapshotName, out var snapshotInfo))
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"{timestampName}: names no {snapshotName}");
        }

        if (Trusted(Roles.Timestamp, root, OtaJson.Default.TimestampMetadata) is { } oldTimestamp)
        {
            RequireNotOlder(timestampName, timestamp.Signed.Version, oldTimestamp.Version);
            if (oldTimestamp.Meta.TryGetValue(snapshotName, out var oldSnapshot))
            {
                RequireNotOlder($"{timestampName} (its {snapshotName})", snapshotInfo.Version, oldSnapshot.Version);
            }
        }

        RequireFresh(timestampName, timestamp.Signed);
        Store(timestampName, timestampBytes);

        // §5.5: snapshot, exactly the one the timestamp names.
        var (snapshot, snapshotBytes) = await NamedAsync(Roles.Snapshot, snapshotInfo, limits.SnapshotMaxBytes, timestampName, root, OtaJson.Default.SnapshotMetadata, cancellationToken).ConfigureAwait(false);

        var targetsName = Roles.FileName(Roles.Targets);
        if (!snapshot.Signed.Meta.TryGetValue(targetsName, out var targetsInfo))
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Malformed, $"{snapshotName}: names no {targetsName}");
        }

        if (Trusted(Roles.Snapshot, root, OtaJson.Default.SnapshotMetadata) is { } oldSnapshotRole)
        {
            RequireNotOlder(snapshotName, snapshot.Signed.Version, oldSnapshotRole.Version);
            foreach (var (file, info) in oldSnapshotRole.Meta)
            {
                if (!snapshot.Signed.Meta.TryGetValue(file, out var now))
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.Rollback, $"{snapshotName}: no longer names {file}");
                }

                RequireNotOlder($"{snapshotName} (its {file})", now.Version, info.Version);
            }
        }

        RequireFresh(snapshotName, snapshot.Signed);
        Store(snapshotName, snapshotBytes);

        // §5.6: targets, exactly the one the snapshot names.
        var (targets, targetsBytes) = await NamedAsync(Roles.Targets, targetsInfo, limits.TargetsMaxBytes, snapshotName, root, OtaJson.Default.TargetsMetadata, cancellationToken).ConfigureAwait(false);

        if (Trusted(Roles.Targets, root, OtaJson.Default.TargetsMetadata) is { } oldTargets)
        {
            RequireNotOlder(targetsName, targets.Signed.Version, oldTargets.Version);
        }

        RequireFresh(targetsName, targets.Signed);
        Store(targetsName, targetsBytes);
        return targets.Signed;
    }

    /// <summary>
    /// Fetches the metadata of <paramref name="role"/> that <paramref name="namedBy"/> names by <paramref name="info"/>:
    /// exactly that file (length and hash), that version, signed by the role's threshold.
    /// </summary>
    private async Task<(ParsedMetadata<T> Parsed, byte[] Bytes)> NamedAsync<T>(string role, MetaFileInfo info, long cap, string namedBy, RootMetadata root, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
        where T : RoleMetadata
    {
        var name = Roles.FileName(role);
        byte[]? fetched;
        try
        {
            fetched = await fetcher.MetadataAsync(name, info.Length ?? cap, cancellationToken).ConfigureAwait(false);
        }
        catch (OtaRefusedException e) when (e.Refusal.Code == OtaRefusalCode.TooLarge && info.Length is long signed)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.TooLarge, $"{name}: longer than the {signed} bytes {namedBy} names (version {info.Version}): not the file signed (changed, reformatted, or without end)");
        }

        var bytes = fetched ?? throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{name}: not found at {fetcher.AddressOf(name)} (HTTP 404), though {namedBy} names it");
        RequireNamed(name, bytes, info, namedBy);
        var parsed = MetadataFile.Parse(name, bytes, role, typeInfo);
        MetadataFile.RequireThreshold(parsed, root, role);
        if (parsed.Signed.Version != info.Version)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Inconsistent, $"{name}: version {parsed.Signed.Version}, but {namedBy} names version {info.Version}");
        }

        return (parsed, bytes);
    }

    private static bool Rotated(RootMetadata before, RootMetadata after, string role) =>
        !before.Roles[role].KeyIds.Order(StringComparer.Ordinal).SequenceEqual(after.Roles[role].KeyIds.Order(StringComparer.Ordinal));

    /// <summary>The stored metadata of <paramref name="role"/> if it still verifies under <paramref name="root"/>; null when there is none or it does not.</summary>
    private T? Trusted<T>(string role, RootMetadata root, JsonTypeInfo<T> typeInfo)
        where T : RoleMetadata
    {
        var path = Path.Combine(directory, Roles.FileName(role));
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var parsed = MetadataFile.Parse(Roles.FileName(role), File.ReadAllBytes(path), role, typeInfo);
            MetadataFile.RequireThreshold(parsed, root, role);
            return parsed.Signed;
        }
        catch (OtaRefusedException)
        {
            return null;
        }
    }

    private void Store(string name, byte[] bytes)
    {
        AtomicFile.CreateDirectory(directory);
        AtomicFile.Write(Path.Combine(directory, name), bytes);
    }

    private void Forget(string role)
    {
        var path = Path.Combine(directory, Roles.FileName(role));
        if (File.Exists(path))
        {
            File.Delete(path);
            AtomicFile.FlushDirectory(directory);
        }
    }

    private void RequireFresh(string name, RoleMetadata metadata)
    {
        if (metadata.Expires <= time.GetUtcNow())
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Expired, $"{name}: version {metadata.Version} expired at {metadata.Expires:u}");
        }
    }

    private static void RequireNotOlder(string name, int version, int trusted)
    {
        if (version < trusted)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Rollback, $"{name}: version {version} is older than the trusted version {trusted}");
        }
    }

    /// <summary>Requires <paramref name="bytes"/> to be exactly the file that <paramref name="namedBy"/> names: another one is a mix-and-match.</summary>
    private static void RequireNamed(string name, byte[] bytes, MetaFileInfo info, string namedBy)
    {
        if (info.Length is long length && bytes.Length != length)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Inconsistent, $"{name}: {bytes.Length} bytes, but {namedBy} names a file of {length} (version {info.Version})");
        }

        if (info.Hashes?.GetValueOrDefault("sha256") is { } expected && !string.Equals(OtaKeys.Hex(SHA256.HashData(bytes)), expected, StringComparison.OrdinalIgnoreCase))
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Inconsistent, $"{name}: not the file {namedBy} names (version {info.Version}): its SHA-256 differs");
        }
    }
}
