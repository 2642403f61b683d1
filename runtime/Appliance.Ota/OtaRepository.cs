using System.Formats.Tar;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Appliance.Storage;

namespace Appliance.Ota;

/// <summary>How long each role's metadata stays valid after it is signed.</summary>
public sealed record MetadataLifetimes
{
    /// <summary>Root metadata; a device that misses a root rotation for this long needs a technician.</summary>
    public TimeSpan Root { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Targets metadata.</summary>
    public TimeSpan Targets { get; init; } = TimeSpan.FromDays(365);

    /// <summary>Snapshot metadata.</summary>
    public TimeSpan Snapshot { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Timestamp metadata: the repository must be re-signed (<c>appliance-ota refresh</c>) within this span, or devices stop trusting it (freeze protection).</summary>
    public TimeSpan Timestamp { get; init; } = TimeSpan.FromDays(7);
}

/// <summary>A failure of the technician's repository work: a missing key, a threshold not met, a model folder that cannot be packed.</summary>
public sealed class RepositoryException(string message) : Exception(message);

/// <summary>
/// The technician's side of a repository: a folder of static files that any web server, object store or CDN serves
/// (<c>root.json</c> and its versions <c>{n}.root.json</c>, <c>targets.json</c>, <c>snapshot.json</c>,
/// <c>timestamp.json</c>, and the model archives under <c>targets/</c>). It packs model folders into targets, adds
/// bundles, and signs every role with the keys it is given. Not thread-safe.
/// </summary>
public sealed class OtaRepository
{
    private readonly TimeProvider _time;

    /// <summary>Opens the repository in <paramref name="directory"/>.</summary>
    public OtaRepository(string directory, TimeProvider time)
    {
        Directory = Path.GetFullPath(directory);
        _time = time;
    }

    /// <summary>The repository's folder.</summary>
    public string Directory { get; }

    /// <summary>How long newly signed metadata stays valid.</summary>
    public MetadataLifetimes Lifetimes { get; init; } = new();

    /// <summary>The current root metadata, as stored (the technician's own files are not verified here).</summary>
    /// <exception cref="RepositoryException">The repository has no root yet.</exception>
    public RootMetadata Root => Read(Roles.Root, OtaJson.Default.RootMetadata) ?? throw new RepositoryException($"{Directory} holds no root.json; run init first");

    /// <summary>The current targets metadata, or an empty one before the first release.</summary>
    public TargetsMetadata Targets => Read(Roles.Targets, OtaJson.Default.TargetsMetadata)
        ?? new TargetsMetadata { Type = Roles.Targets, Version = 0, Expires = _time.GetUtcNow(), Targets = new Dictionary<string, TargetFile>() };

    /// <summary>
    /// Creates root metadata version 1 in which each role has the given keys and threshold, and empty targets,
    /// snapshot and timestamp, each signed by those of <paramref name="keys"/> that the root lists for its role.
    /// </summary>
    /// <exception cref="RepositoryException">The folder already holds a repository, or a role's keys do not reach its threshold.</exception>
    public void Init(IReadOnlyDictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> roles, IReadOnlyCollection<SigningKey> keys)
    {
        if (File.Exists(Path.Combine(Directory, Roles.FileName(Roles.Root))))
        {
            throw new RepositoryException($"{Directory} already holds a repository");
        }

        System.IO.Directory.CreateDirectory(Path.Combine(Directory, "targets"));
        WriteRoot(NewRoot(1, roles), keys);
        Publish(Targets with { Version = 0 }, keys);
    }

    /// <summary>
    /// Signs root metadata of the next version with the given keys and thresholds per role and a fresh expiry, by the
    /// threshold of the current root's keys and of the new ones, then targets, snapshot and timestamp again under it.
    /// Devices follow the chain of root versions (TUF §5.3).
    /// </summary>
    /// <returns>The new root.</returns>
    /// <exception cref="RepositoryException">The keys do not reach a threshold, of the old root or of a role of the new one; nothing is written then.</exception>
    public RootMetadata RotateRoot(IReadOnlyDictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> roles, IReadOnlyCollection<SigningKey> keys)
    {
        var current = Root;
        var next = NewRoot(current.Version + 1, roles);
        Signers(current, Roles.Root, keys);
        foreach (var role in (string[])[Roles.Root, Roles.Targets, Roles.Snapshot, Roles.Timestamp])
        {
            Signers(next, role, keys);
        }

        WriteRoot(next, keys);
        Publish(Targets, keys);
        return next;
    }

    /// <summary>Root metadata of <paramref name="version"/> with the given keys and thresholds per role.</summary>
    public RootMetadata NewRoot(int version, IReadOnlyDictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> roles)
    {
        var allKeys = new Dictionary<string, KeyEntry>(StringComparer.Ordinal);
        var roleKeys = new Dictionary<string, RoleKeys>(StringComparer.Ordinal);
        foreach (var (role, (entries, threshold)) in roles)
        {
            var ids = entries.Select(OtaKeys.KeyId).ToList();
            foreach (var (id, entry) in ids.Zip(entries))
            {
                allKeys[id] = entry;
            }

            roleKeys[role] = new RoleKeys { KeyIds = ids, Threshold = threshold };
        }

        return new RootMetadata { Type = Roles.Root, Version = version, Expires = Expiry(Lifetimes.Root), Keys = allKeys, Roles = roleKeys };
    }

    /// <summary>Writes <paramref name="root"/> as <c>root.json</c> and <c>{version}.root.json</c>, signed by those of <paramref name="keys"/> that the new root or the current one lists for the root role.</summary>
    /// <exception cref="RepositoryException">The keys reach the threshold of the new root or of the current one.</exception>
    public void WriteRoot(RootMetadata root, IReadOnlyCollection<SigningKey> keys)
    {
        var current = File.Exists(Path.Combine(Directory, Roles.FileName(Roles.Root))) ? Root : null;
        var signers = Signers(root, Roles.Root, keys);
        if (current is not null)
        {
            var old = Signers(current, Roles.Root, keys);
            signers = [.. signers.Union(old)];
        }

        var bytes = MetadataFile.Write(root, OtaJson.Default.RootMetadata, signers);
        AtomicFile.Write(Path.Combine(Directory, Roles.RootFileName(root.Version)), bytes);
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Root)), bytes);
    }

    /// <summary>
    /// Packs <paramref name="modelFolder"/> into <c>targets/{feature}-{modelId}-r{release}.tar</c> (replacing an archive
    /// of that name) and returns its path in the repository and its signed description.
    /// </summary>
    /// <exception cref="RepositoryException">The folder does not exist.</exception>
    public (string Path, TargetFile File) Pack(string modelFolder, ModelTarget custom)
    {
        if (!System.IO.Directory.Exists(modelFolder))
        {
            throw new RepositoryException($"{modelFolder}: no such model folder");
        }

        var name = $"{custom.Feature}-{custom.ModelId}-r{custom.Release}.tar";
        var path = Path.Combine(Directory, "targets", name);
        System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temporary = path + ".tmp";
        WriteArchive(modelFolder, temporary);
        File.Move(temporary, path, overwrite: true);
        using var stream = File.OpenRead(path);
        var file = new TargetFile
        {
            Length = stream.Length,
            Hashes = new Dictionary<string, string> { ["sha256"] = OtaKeys.Hex(SHA256.HashData(stream)) },
            Custom = custom,
        };
        return (name, file);
    }

    /// <summary>
    /// Writes the files of <paramref name="folder"/> as a GNU tar archive that depends on their names and bytes only:
    /// sorted paths, no time stamps, owners or process ids, so that an unchanged model packs to the same SHA-256 and
    /// devices running it download nothing.
    /// </summary>
    private static void WriteArchive(string folder, string archive)
    {
        using var stream = File.Create(archive);
        using var writer = new TarWriter(stream, TarEntryFormat.Gnu, leaveOpen: false);
        var root = Path.GetFullPath(folder);
        var files = System.IO.Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal);
        foreach (var name in files)
        {
            using var data = File.OpenRead(Path.Combine(root, name));
            writer.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, name)
            {
                DataStream = data,
                ModificationTime = DateTimeOffset.UnixEpoch,
                AccessTime = DateTimeOffset.UnixEpoch,
                ChangeTime = DateTimeOffset.UnixEpoch,
                Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                Uid = 0,
                Gid = 0,
            });
        }
    }

    /// <summary>
    /// Signs <paramref name="targets"/> as the next targets version, then a snapshot naming it and a timestamp naming
    /// the snapshot, each with those of <paramref name="keys"/> that the root lists for its role.
    /// </summary>
    /// <exception cref="RepositoryException">The keys do not reach a role's threshold; nothing is written then.</exception>
    public void Publish(TargetsMetadata targets, IReadOnlyCollection<SigningKey> keys)
    {
        var root = Root;
        var targetsSigners = Signers(root, Roles.Targets, keys);
        var snapshotSigners = Signers(root, Roles.Snapshot, keys);
        var timestampSigners = Signers(root, Roles.Timestamp, keys);
        var nextTargets = targets with { Version = Targets.Version + 1, Expires = Expiry(Lifetimes.Targets) };
        var targetsBytes = MetadataFile.Write(nextTargets, OtaJson.Default.TargetsMetadata, targetsSigners);
        var snapshot = NextSnapshot(nextTargets.Version, targetsBytes);
        var snapshotBytes = MetadataFile.Write(snapshot, OtaJson.Default.SnapshotMetadata, snapshotSigners);
        var timestampBytes = MetadataFile.Write(NextTimestamp(snapshot.Version, snapshotBytes), OtaJson.Default.TimestampMetadata, timestampSigners);
        // Targets, snapshot, then timestamp, each replaced whole: a device that reads while this runs meets files that do
        // not name each other, refuses this check (inconsistent) and takes the whole set at its next one; never a mix.
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Targets)), targetsBytes);
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Snapshot)), snapshotBytes);
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Timestamp)), timestampBytes);
    }

    /// <summary>Re-signs snapshot and timestamp with new versions and expiries, so devices keep trusting an unchanged repository.</summary>
    /// <exception cref="RepositoryException">The keys do not reach the snapshot's or the timestamp's threshold.</exception>
    public void Refresh(IReadOnlyCollection<SigningKey> keys)
    {
        var root = Root;
        var targetsBytes = File.ReadAllBytes(Path.Combine(Directory, Roles.FileName(Roles.Targets)));
        var snapshot = NextSnapshot(Targets.Version, targetsBytes);
        var snapshotBytes = MetadataFile.Write(snapshot, OtaJson.Default.SnapshotMetadata, Signers(root, Roles.Snapshot, keys));
        var timestampBytes = MetadataFile.Write(NextTimestamp(snapshot.Version, snapshotBytes), OtaJson.Default.TimestampMetadata, Signers(root, Roles.Timestamp, keys));
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Snapshot)), snapshotBytes);
        AtomicFile.Write(Path.Combine(Directory, Roles.FileName(Roles.Timestamp)), timestampBytes);
    }

    /// <summary>Checks, before anything is written, that <paramref name="keys"/> reach the threshold of targets, snapshot and timestamp: what <see cref="Publish"/> needs.</summary>
    /// <exception cref="RepositoryException">The repository has no root, or a role's threshold is not reached.</exception>
    public void RequirePublishKeys(IReadOnlyCollection<SigningKey> keys)
    {
        var root = Root;
        foreach (var role in (string[])[Roles.Targets, Roles.Snapshot, Roles.Timestamp])
        {
            Signers(root, role, keys);
        }
    }

    /// <summary>Writes any role's metadata as given, signed by exactly <paramref name="keys"/>: for tests of what a device refuses, and for repair.</summary>
    public void WriteAsIs<T>(string fileName, T metadata, JsonTypeInfo<T> typeInfo, IEnumerable<SigningKey> keys)
        where T : RoleMetadata =>
        File.WriteAllBytes(Path.Combine(Directory, fileName), MetadataFile.Write(metadata, typeInfo, keys));

    /// <summary>The serializer of each role's metadata, for <see cref="WriteAsIs{T}"/>.</summary>
    public static JsonTypeInfo<TargetsMetadata> TargetsType => OtaJson.Default.TargetsMetadata;

    /// <inheritdoc cref="TargetsType"/>
    public static JsonTypeInfo<SnapshotMetadata> SnapshotType => OtaJson.Default.SnapshotMetadata;

    /// <inheritdoc cref="TargetsType"/>
    public static JsonTypeInfo<TimestampMetadata> TimestampType => OtaJson.Default.TimestampMetadata;

    private SnapshotMetadata NextSnapshot(int targetsVersion, byte[] targetsBytes) => new()
    {
        Type = Roles.Snapshot,
        Version = (Read(Roles.Snapshot, OtaJson.Default.SnapshotMetadata)?.Version ?? 0) + 1,
        Expires = Expiry(Lifetimes.Snapshot),
        Meta = new Dictionary<string, MetaFileInfo> { [Roles.FileName(Roles.Targets)] = MetaFileInfo.Of(targetsVersion, targetsBytes) },
    };

    private TimestampMetadata NextTimestamp(int snapshotVersion, byte[] snapshotBytes) => new()
    {
        Type = Roles.Timestamp,
        Version = (Read(Roles.Timestamp, OtaJson.Default.TimestampMetadata)?.Version ?? 0) + 1,
        Expires = Expiry(Lifetimes.Timestamp),
        Meta = new Dictionary<string, MetaFileInfo> { [Roles.FileName(Roles.Snapshot)] = MetaFileInfo.Of(snapshotVersion, snapshotBytes) },
    };

    /// <summary>Now plus <paramref name="lifetime"/>, in whole seconds of UTC.</summary>
    private DateTimeOffset Expiry(TimeSpan lifetime)
    {
        var at = _time.GetUtcNow() + lifetime;
        return new DateTimeOffset(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerSecond), TimeSpan.Zero);
    }

    private static List<SigningKey> Signers(RootMetadata root, string role, IReadOnlyCollection<SigningKey> keys)
    {
        var roleKeys = root.Roles[role];
        var signers = keys.Where(k => roleKeys.KeyIds.Contains(k.KeyId)).DistinctBy(k => k.KeyId).ToList();
        if (signers.Count < roleKeys.Threshold)
        {
            throw new RepositoryException(
                $"the {role} role of root version {root.Version} needs {roleKeys.Threshold} of its {roleKeys.KeyIds.Count} key(s) ({string.Join(", ", roleKeys.KeyIds.Select(k => k[..16]))}…); " +
                $"{signers.Count} of the {keys.Count} key(s) given {(signers.Count == 1 ? "is" : "are")} among them: add --key with the role's key files");
        }

        return signers;
    }

    private T? Read<T>(string role, JsonTypeInfo<T> typeInfo)
        where T : RoleMetadata
    {
        var path = Path.Combine(Directory, Roles.FileName(role));
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllBytes(path));
        return document.RootElement.GetProperty("signed").Deserialize(typeInfo);
    }
}
