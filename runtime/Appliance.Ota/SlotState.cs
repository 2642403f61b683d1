using System.Text.Json.Serialization;

namespace Appliance.Ota;

/// <summary>
/// What the device runs, kept in <c>state.json</c> beside the slots and replaced only whole (atomic rename and a
/// folder flush): the active slot of each feature, the bundle it came from, and the health window of a fresh switch.
/// A power cut leaves the previous or the next state, never a mix.
/// </summary>
public sealed record SlotState
{
    /// <summary>The bundle installed last, or null while every feature runs the model of the device profile.</summary>
    [JsonPropertyName("bundle")]
    public string? Bundle { get; init; }

    /// <summary>That bundle's release; 0 before the first update.</summary>
    [JsonPropertyName("bundleRelease")]
    public int BundleRelease { get; init; }

    /// <summary>The active slot of each feature that an update filled; a feature not listed runs the profile's model.</summary>
    [JsonPropertyName("features")]
    public IReadOnlyDictionary<string, SlotEntry> Features { get; init; } = new Dictionary<string, SlotEntry>();

    /// <summary>
    /// The state before the last switch, whose models stay in the inactive slots until the next install begins; a
    /// rollback restores it. Its own <see cref="Previous"/> is null.
    /// </summary>
    [JsonPropertyName("previous")]
    public SlotState? Previous { get; init; }

    /// <summary>The health window of the last switch while it runs; null once the switch is confirmed or rolled back.</summary>
    [JsonPropertyName("trial")]
    public SlotTrial? Trial { get; init; }

    /// <summary>The last automatic or requested rollback, kept for <c>status</c>.</summary>
    [JsonPropertyName("lastRollback")]
    public RollbackRecord? LastRollback { get; init; }
}

/// <summary>One feature's active model.</summary>
/// <param name="Slot"><c>a</c> or <c>b</c>: the folder under <c>slots/{feature}/</c>.</param>
/// <param name="ModelId">The model's id.</param>
/// <param name="Release">The target's release counter.</param>
/// <param name="Target">The target's path in the repository.</param>
/// <param name="Sha256">The target file's SHA-256.</param>
/// <param name="Entry">The file inside the slot that the feature loads, or null for the folder.</param>
public sealed record SlotEntry(
    [property: JsonPropertyName("slot")] string Slot,
    [property: JsonPropertyName("modelId")] string ModelId,
    [property: JsonPropertyName("release")] int Release,
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("entry")] string? Entry);

/// <summary>A switch under probation: how its health window is going.</summary>
public sealed record SlotTrial
{
    /// <summary>When the switch happened.</summary>
    [JsonPropertyName("switchedAt")]
    public required DateTimeOffset SwitchedAt { get; init; }

    /// <summary>How many times the daemon started since the switch; too many means a crash loop.</summary>
    [JsonPropertyName("starts")]
    public int Starts { get; init; }

    /// <summary>Requests served by the new models since the switch.</summary>
    [JsonPropertyName("requestsServed")]
    public int RequestsServed { get; init; }
}

/// <summary>A rollback: which bundle was left, why, and when.</summary>
/// <param name="Bundle">The bundle rolled back from.</param>
/// <param name="Release">Its release; the device refuses it from now on.</param>
/// <param name="Reason">Why, for the technician.</param>
/// <param name="At">When.</param>
public sealed record RollbackRecord(
    [property: JsonPropertyName("bundle")] string Bundle,
    [property: JsonPropertyName("release")] int Release,
    [property: JsonPropertyName("reason")] string Reason,
    [property: JsonPropertyName("at")] DateTimeOffset At);

/// <summary>The last file an install writes into a slot: which target it holds and every file's length, checked at every start.</summary>
internal sealed record SlotManifest(
    [property: JsonPropertyName("target")] string Target,
    [property: JsonPropertyName("sha256")] string Sha256,
    [property: JsonPropertyName("files")] IReadOnlyDictionary<string, long> Files);
