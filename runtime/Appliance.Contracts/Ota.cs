namespace Appliance.Contracts;

/// <summary>The parameters of <c>ota.check</c> and <c>ota.update</c>.</summary>
public sealed record OtaBundleParams
{
    /// <summary>The bundle to check or install by name; when null, the newest bundle of the repository for this device.</summary>
    public string? Bundle { get; init; }
}

/// <summary>The parameters of <c>ota.rollback</c>.</summary>
public sealed record OtaRollbackParams
{
    /// <summary>Why, for the record in <c>status</c> and <c>ota.status</c>; "requested" when null.</summary>
    public string? Reason { get; init; }
}

/// <summary>Why an update was refused: a code of <see cref="OtaRefusalCodes"/> and a sentence naming the file and the reason.</summary>
/// <param name="Code">For example <c>hash_mismatch</c>, <c>signature</c>, <c>incompatible</c>.</param>
/// <param name="Message">For example <c>targets.json: 1 valid signature(s) of the 2 the targets role needs</c>.</param>
public sealed record OtaRefusalInfo(string Code, string Message);

/// <summary>One model of a bundle.</summary>
/// <param name="Feature">The feature whose slot it fills: <c>asr</c>, <c>voiceLlm</c>, <c>summaryLlm</c>, <c>vad</c> or <c>wakeWord</c>.</param>
/// <param name="ModelId">The model's id.</param>
/// <param name="Release">The model's release counter.</param>
/// <param name="Length">The target file's length in bytes.</param>
public sealed record OtaTargetInfo(string Feature, string ModelId, int Release, long Length);

/// <summary>The result of <c>ota.check</c>: what this device would install now, or why nothing.</summary>
/// <param name="UpdateAvailable">True when a newer bundle for this device is signed and would be installed.</param>
/// <param name="Bundle">That bundle, or the one refused; null when the repository offers none.</param>
/// <param name="Release">Its release.</param>
/// <param name="Targets">The models it would replace (those already running are left out).</param>
/// <param name="Refusal">Why the repository or the bundle is refused; null otherwise.</param>
public sealed record OtaCheckResult(bool UpdateAvailable, string? Bundle, int? Release, IReadOnlyList<OtaTargetInfo> Targets, OtaRefusalInfo? Refusal);

/// <summary>The result of <c>ota.update</c>: the update runs on; its stages go to <c>ota/progress</c>.</summary>
/// <param name="Started">True: an update began (it may still find the device up to date).</param>
/// <param name="Bundle">The bundle asked for, or null for the newest.</param>
public sealed record OtaUpdateResult(bool Started, string? Bundle);

/// <summary>One feature's active slot.</summary>
/// <param name="Feature">The feature.</param>
/// <param name="Slot"><c>a</c> or <c>b</c>.</param>
/// <param name="ModelId">The model in it.</param>
/// <param name="Release">The model's release counter.</param>
public sealed record OtaSlotInfo(string Feature, string Slot, string ModelId, int Release);

/// <summary>A rollback, kept until the next one.</summary>
/// <param name="Bundle">The bundle left.</param>
/// <param name="Release">Its release; the device refuses it from then on.</param>
/// <param name="Reason">Why: a crash loop, a failed health check, a damaged slot, or a request.</param>
/// <param name="At">When (UTC).</param>
public sealed record OtaRollbackInfo(string Bundle, int Release, string Reason, DateTimeOffset At);

/// <summary>The health window after a switch.</summary>
/// <param name="SwitchedAt">When the switch happened (UTC).</param>
/// <param name="Starts">Daemon starts since the switch; past <c>Ota:MaxStarts</c> the switch is rolled back.</param>
/// <param name="RequestsServed">Requests served since the switch; <c>Ota:HealthWindowRequests</c> of them without a failure confirm it.</param>
public sealed record OtaHealthWindowInfo(DateTimeOffset SwitchedAt, int Starts, int RequestsServed);

/// <summary>
/// The over-the-air update state of a device: in <c>status</c> (field <c>ota</c>) and as the result of
/// <c>ota.status</c> and <c>ota.rollback</c>.
/// </summary>
public sealed record OtaState
{
    /// <summary>The bundle installed last, or null while every feature runs the model of the profile.</summary>
    public string? Bundle { get; init; }

    /// <summary>Its release; 0 before the first update.</summary>
    public int Release { get; init; }

    /// <summary>The slots an update filled; features not listed run the profile's model.</summary>
    public required IReadOnlyList<OtaSlotInfo> Slots { get; init; }

    /// <summary>The health window of the last switch while it runs.</summary>
    public OtaHealthWindowInfo? HealthWindow { get; init; }

    /// <summary>The last rollback.</summary>
    public OtaRollbackInfo? LastRollback { get; init; }

    /// <summary>The last update's last stage; <c>ota.status</c> only.</summary>
    public OtaProgressEvent? LastProgress { get; init; }
}

/// <summary>
/// One stage of an update, on <c>appliance/v1/{deviceId}/ota/progress</c> (QoS 1, retained: the last stage stays for a
/// technician who looks later).
/// </summary>
public sealed record OtaProgressEvent
{
    /// <summary>One of <see cref="OtaStageNames"/>.</summary>
    public required string Stage { get; init; }

    /// <summary>The bundle, once chosen.</summary>
    public string? Bundle { get; init; }

    /// <summary>Its release.</summary>
    public int? Release { get; init; }

    /// <summary>The target being downloaded, installed or tested.</summary>
    public string? File { get; init; }

    /// <summary>Bytes of the bundle downloaded so far, a resumed download's earlier bytes included.</summary>
    public long Bytes { get; init; }

    /// <summary>The bundle's bytes in all.</summary>
    public long TotalBytes { get; init; }

    /// <summary>The download rate, in bytes per second.</summary>
    public double BytesPerSecond { get; init; }

    /// <summary>Why the update stopped, at stage <c>refused</c>; why it went back, at <c>rolled_back</c>.</summary>
    public OtaRefusalInfo? Refusal { get; init; }

    /// <summary>When (UTC).</summary>
    public required DateTimeOffset At { get; init; }
}

/// <summary>The stages on <c>ota/progress</c>.</summary>
public static class OtaStageNames
{
    /// <summary>Reading the repository's signed metadata.</summary>
    public const string Checking = "checking";

    /// <summary>Downloading the bundle's targets.</summary>
    public const string Downloading = "downloading";

    /// <summary>Unpacking them into the inactive slots.</summary>
    public const string Installing = "installing";

    /// <summary>Loading and testing the new slots.</summary>
    public const string SmokeTest = "smoke_test";

    /// <summary>Switched; the daemon restarts into the new models and the health window runs.</summary>
    public const string HealthWindow = "health_window";

    /// <summary>The health window passed: the new models stay.</summary>
    public const string Committed = "committed";

    /// <summary>Went back to the previous models.</summary>
    public const string RolledBack = "rolled_back";

    /// <summary>Nothing newer for this device.</summary>
    public const string UpToDate = "up_to_date";

    /// <summary>Refused or failed; the refusal says why. The models in use are untouched.</summary>
    public const string Refused = "refused";
}

/// <summary>The refusal codes of <see cref="OtaRefusalInfo.Code"/>, one per class of attack or fault.</summary>
public static class OtaRefusalCodes
{
    /// <summary>Too few valid signatures for the role's threshold.</summary>
    public const string Signature = "signature";

    /// <summary>A target's SHA-256 is not the signed one.</summary>
    public const string HashMismatch = "hash_mismatch";

    /// <summary>A file is longer than signed or capped.</summary>
    public const string TooLarge = "too_large";

    /// <summary>A mirror sent below the minimum rate.</summary>
    public const string TooSlow = "too_slow";

    /// <summary>Metadata expired.</summary>
    public const string Expired = "expired";

    /// <summary>An older version or release than trusted or running.</summary>
    public const string Rollback = "rollback";

    /// <summary>Metadata files that do not belong together.</summary>
    public const string Inconsistent = "inconsistent";

    /// <summary>A bundle names a target the targets metadata does not sign.</summary>
    public const string UnsignedTarget = "unsigned_target";

    /// <summary>Not for this device: SoC, profile or daemon version.</summary>
    public const string Incompatible = "incompatible";

    /// <summary>Metadata that cannot be parsed or breaks the format.</summary>
    public const string Malformed = "malformed";

    /// <summary>The repository cannot be reached.</summary>
    public const string Unreachable = "unreachable";

    /// <summary>No room in the staging area or the slots.</summary>
    public const string StorageFull = "storage_full";

    /// <summary>The device's OTA folder cannot be written or read (read-only, no permission, an I/O error).</summary>
    public const string StorageError = "storage_error";

    /// <summary>The new models did not load or did not give the recorded tokens.</summary>
    public const string SmokeTestFailed = "smoke_test_failed";

    /// <summary>The new models failed the health window.</summary>
    public const string HealthCheckFailed = "health_check_failed";

    /// <summary>Another update or health window is running.</summary>
    public const string Busy = "busy";

    /// <summary>At <c>rolled_back</c>: a technician asked for it (<c>ota.rollback</c>).</summary>
    public const string Requested = "requested";
}

/// <summary>
/// A release announced to a fleet group, retained on <c>appliance/v1/fleet/{group}/ota</c>: every device of the group
/// installs it when it is newer than what it runs and meant for it. An empty retained message withdraws it.
/// </summary>
/// <param name="Bundle">The bundle's name.</param>
/// <param name="Release">Its release.</param>
public sealed record OtaAnnouncement(string Bundle, int Release);
