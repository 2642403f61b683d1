using System.Text.Json.Serialization;

namespace Appliance.Ota;

/// <summary>The names of the four top-level roles and their metadata files, as in the TUF specification (§2.1).</summary>
public static class Roles
{
    /// <summary>The root role: it names every role's keys and thresholds.</summary>
    public const string Root = "root";

    /// <summary>The targets role: it signs the model files and the bundles.</summary>
    public const string Targets = "targets";

    /// <summary>The snapshot role: it fixes which version of targets.json belongs to the repository's current state.</summary>
    public const string Snapshot = "snapshot";

    /// <summary>The timestamp role: it signs, with a short expiry, which snapshot is current.</summary>
    public const string Timestamp = "timestamp";

    /// <summary>The file name of a role's current metadata, for example <c>targets.json</c>.</summary>
    public static string FileName(string role) => role + ".json";

    /// <summary>The file name of version <paramref name="version"/> of the root metadata, kept for the chain of root rotations: <c>{version}.root.json</c>.</summary>
    public static string RootFileName(int version) => $"{version}.root.json";
}

/// <summary>The features whose models an update replaces; each has its own A/B slot pair on the device.</summary>
public static class OtaFeatures
{
    /// <summary>Whisper transcription.</summary>
    public const string Asr = "asr";

    /// <summary>The small model that maps an utterance to an intent.</summary>
    public const string VoiceLlm = "voiceLlm";

    /// <summary>The reasoning model that summarizes meetings.</summary>
    public const string SummaryLlm = "summaryLlm";

    /// <summary>Voice activity detection.</summary>
    public const string Vad = "vad";

    /// <summary>Wake-word detection.</summary>
    public const string WakeWord = "wakeWord";

    /// <summary>Every feature, in a fixed order.</summary>
    public static IReadOnlyList<string> All { get; } = [Asr, VoiceLlm, SummaryLlm, Vad, WakeWord];
}

/// <summary>One signature of a metadata file.</summary>
/// <param name="KeyId">The signing key's id: the lowercase hex SHA-256 of its canonical key entry.</param>
/// <param name="Sig">The Ed25519 signature, 64 bytes in lowercase hex.</param>
public sealed record MetadataSignature([property: JsonPropertyName("keyid")] string KeyId, [property: JsonPropertyName("sig")] string Sig);

/// <summary>A public key as root metadata lists it (TUF §4.2: <c>keytype</c>, <c>scheme</c>, <c>keyval.public</c>).</summary>
public sealed record KeyEntry
{
    /// <summary>Always <c>ed25519</c>.</summary>
    [JsonPropertyName("keytype")]
    public string KeyType { get; init; } = "ed25519";

    /// <summary>Always <c>ed25519</c>.</summary>
    [JsonPropertyName("scheme")]
    public string Scheme { get; init; } = "ed25519";

    /// <summary>The public key.</summary>
    [JsonPropertyName("keyval")]
    public required KeyValue KeyVal { get; init; }
}

/// <summary>The value of a public key.</summary>
/// <param name="Public">The 32-byte Ed25519 public key in lowercase hex.</param>
public sealed record KeyValue([property: JsonPropertyName("public")] string Public);

/// <summary>Which keys sign for a role and how many of them must.</summary>
public sealed record RoleKeys
{
    /// <summary>The ids of the role's keys (each a key of <see cref="RootMetadata.Keys"/>).</summary>
    [JsonPropertyName("keyids")]
    public required IReadOnlyList<string> KeyIds { get; init; }

    /// <summary>How many distinct keys of <see cref="KeyIds"/> must have signed; at least 1.</summary>
    [JsonPropertyName("threshold")]
    public required int Threshold { get; init; }
}

/// <summary>The fields every role's metadata has (TUF §4.3–4.6).</summary>
public abstract record RoleMetadata
{
    /// <summary>The role's name: <c>root</c>, <c>targets</c>, <c>snapshot</c> or <c>timestamp</c>.</summary>
    [JsonPropertyName("_type")]
    public required string Type { get; init; }

    /// <summary>The TUF specification version the format follows.</summary>
    [JsonPropertyName("spec_version")]
    public string SpecVersion { get; init; } = "1.0.31";

    /// <summary>The metadata's version, from 1; every new file of a role has a higher one.</summary>
    [JsonPropertyName("version")]
    public required int Version { get; init; }

    /// <summary>When the metadata stops being trusted (UTC).</summary>
    [JsonPropertyName("expires")]
    public required DateTimeOffset Expires { get; init; }
}

/// <summary>Root metadata: the keys of every role and their thresholds.</summary>
public sealed record RootMetadata : RoleMetadata
{
    /// <summary>Always false: this repository keeps one current file per role and the versioned root files.</summary>
    [JsonPropertyName("consistent_snapshot")]
    public bool ConsistentSnapshot { get; init; }

    /// <summary>The public keys by key id.</summary>
    [JsonPropertyName("keys")]
    public required IReadOnlyDictionary<string, KeyEntry> Keys { get; init; }

    /// <summary>The keys and threshold of each of the four roles.</summary>
    [JsonPropertyName("roles")]
    public required IReadOnlyDictionary<string, RoleKeys> Roles { get; init; }
}

/// <summary>What snapshot or timestamp metadata says about another metadata file.</summary>
public sealed record MetaFileInfo
{
    /// <summary>The file's version.</summary>
    [JsonPropertyName("version")]
    public required int Version { get; init; }

    /// <summary>The file's length in bytes, when given; a longer file is refused.</summary>
    [JsonPropertyName("length")]
    public long? Length { get; init; }

    /// <summary>The file's hashes by algorithm (<c>sha256</c>: lowercase hex), when given.</summary>
    [JsonPropertyName("hashes")]
    public IReadOnlyDictionary<string, string>? Hashes { get; init; }

    /// <summary>What names <paramref name="bytes"/> as version <paramref name="version"/>: its length and SHA-256.</summary>
    public static MetaFileInfo Of(int version, ReadOnlySpan<byte> bytes) => new()
    {
        Version = version,
        Length = bytes.Length,
        Hashes = new Dictionary<string, string> { ["sha256"] = OtaKeys.Hex(System.Security.Cryptography.SHA256.HashData(bytes)) },
    };
}

/// <summary>Snapshot metadata: the version of targets.json that belongs to the repository's current state.</summary>
public sealed record SnapshotMetadata : RoleMetadata
{
    /// <summary>By file name; holds <c>targets.json</c>.</summary>
    [JsonPropertyName("meta")]
    public required IReadOnlyDictionary<string, MetaFileInfo> Meta { get; init; }
}

/// <summary>Timestamp metadata: the current snapshot, signed with a short expiry.</summary>
public sealed record TimestampMetadata : RoleMetadata
{
    /// <summary>By file name; holds <c>snapshot.json</c> with its version, length and SHA-256.</summary>
    [JsonPropertyName("meta")]
    public required IReadOnlyDictionary<string, MetaFileInfo> Meta { get; init; }
}

/// <summary>Targets metadata: the model files a device may install, and the bundles that group them.</summary>
public sealed record TargetsMetadata : RoleMetadata
{
    /// <summary>The files by path relative to the repository's <c>targets/</c> folder.</summary>
    [JsonPropertyName("targets")]
    public required IReadOnlyDictionary<string, TargetFile> Targets { get; init; }

    /// <summary>
    /// The bundles by name: sets of targets that install together or not at all. This product's addition to the
    /// targets role; a device installs bundles, never single targets.
    /// </summary>
    [JsonPropertyName("bundles")]
    public IReadOnlyDictionary<string, Bundle> Bundles { get; init; } = new Dictionary<string, Bundle>();
}

/// <summary>One file of the repository: a model folder packed as a POSIX tar archive.</summary>
public sealed record TargetFile
{
    /// <summary>The file's exact length in bytes.</summary>
    [JsonPropertyName("length")]
    public required long Length { get; init; }

    /// <summary>The file's hashes by algorithm; <c>sha256</c> (lowercase hex) is required.</summary>
    [JsonPropertyName("hashes")]
    public required IReadOnlyDictionary<string, string> Hashes { get; init; }

    /// <summary>What the file is and where it may go.</summary>
    [JsonPropertyName("custom")]
    public required ModelTarget Custom { get; init; }
}

/// <summary>The custom fields of a target: the model it holds, the devices it is for, and how to check it after install.</summary>
public sealed record ModelTarget
{
    /// <summary>The feature whose slot it fills: one of <see cref="OtaFeatures.All"/>.</summary>
    [JsonPropertyName("feature")]
    public required string Feature { get; init; }

    /// <summary>The model's id, as the device profile and <c>status</c> name it (for example <c>whisper-base</c>).</summary>
    [JsonPropertyName("modelId")]
    public required string ModelId { get; init; }

    /// <summary>The release counter of this model for this feature, from 1; a device refuses one lower than the release it runs (anti-rollback).</summary>
    [JsonPropertyName("release")]
    public required int Release { get; init; }

    /// <summary>The SoC models it runs on, as profiles name them in <c>soc.model</c> (case-insensitive); empty for any.</summary>
    [JsonPropertyName("socs")]
    public IReadOnlyList<string> Socs { get; init; } = [];

    /// <summary>The device profiles it is for, by <c>name</c>; empty for any.</summary>
    [JsonPropertyName("profiles")]
    public IReadOnlyList<string> Profiles { get; init; } = [];

    /// <summary>The oldest daemon version that can run it (semantic version, <c>major.minor.patch</c>).</summary>
    [JsonPropertyName("minDaemonVersion")]
    public string MinDaemonVersion { get; init; } = "0.0.0";

    /// <summary>The file inside the folder that the feature loads, for a model that is one file (<c>silero_vad.onnx</c>); null when the feature loads the folder.</summary>
    [JsonPropertyName("entry")]
    public string? Entry { get; init; }

    /// <summary>What the smoke test must see after install, recorded at packaging; null for a model without one.</summary>
    [JsonPropertyName("smoke")]
    public SmokeExpectation? Smoke { get; init; }
}

/// <summary>
/// The smoke test's expectation, recorded when the technician packaged the release: the token ids the model gave
/// for a golden input with greedy decoding.
/// </summary>
public sealed record SmokeExpectation
{
    /// <summary>The golden prompt of a language model (a user message, through the model's chat template); null for Whisper.</summary>
    [JsonPropertyName("prompt")]
    public string? Prompt { get; init; }

    /// <summary>The reference clip of a Whisper model, as a path inside the target's folder (16 kHz mono WAV); null for a language model.</summary>
    [JsonPropertyName("clip")]
    public string? Clip { get; init; }

    /// <summary>The token ids the model produced, greedy, at most 16.</summary>
    [JsonPropertyName("tokenIds")]
    public required IReadOnlyList<int> TokenIds { get; init; }
}

/// <summary>Targets that install together or not at all, for example a language model, Whisper and VAD that were tested together.</summary>
public sealed record Bundle
{
    /// <summary>The bundle's release counter, from 1; a device refuses a bundle whose release is lower than the one it runs.</summary>
    [JsonPropertyName("release")]
    public required int Release { get; init; }

    /// <summary>The target paths it installs, at most one per feature; each must be a target of the same targets metadata.</summary>
    [JsonPropertyName("targets")]
    public required IReadOnlyList<string> Targets { get; init; }
}
