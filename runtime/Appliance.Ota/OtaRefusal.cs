using Appliance.Contracts;

namespace Appliance.Ota;

/// <summary>
/// Why an update was refused or failed. Each names one class of attack or fault from the TUF specification's threat
/// model (§1.5.2), or a local cause; the wire names (<see cref="OtaRefusalCodeNames"/>) appear in <c>ota/progress</c>,
/// <c>ota.status</c> and the technician's tools.
/// </summary>
public enum OtaRefusalCode
{
    /// <summary>A metadata file is not signed by enough of its role's keys (bad signature, or fewer than the threshold: a stolen key under a threshold of two).</summary>
    Signature,

    /// <summary>A file's SHA-256 is not the one its signed metadata gives (arbitrary installation).</summary>
    HashMismatch,

    /// <summary>A file is longer than its signed length or its cap (endless data).</summary>
    TooLarge,

    /// <summary>A mirror sent less than the minimum rate (slow retrieval).</summary>
    TooSlow,

    /// <summary>Metadata has expired (indefinite freeze).</summary>
    Expired,

    /// <summary>A version or release is older than one already trusted or installed (rollback).</summary>
    Rollback,

    /// <summary>Metadata files disagree with each other: a snapshot that names another targets version than the one served (mix-and-match).</summary>
    Inconsistent,

    /// <summary>A bundle names a target that the targets metadata does not sign (extraneous dependencies).</summary>
    UnsignedTarget,

    /// <summary>The release is not for this device: another SoC, another profile, or a newer daemon (wrong software).</summary>
    Incompatible,

    /// <summary>A metadata file cannot be parsed, or says something the format forbids.</summary>
    Malformed,

    /// <summary>The repository could not be reached or answered with an HTTP error.</summary>
    Unreachable,

    /// <summary>The staging area or a slot ran out of space.</summary>
    StorageFull,

    /// <summary>The device's OTA folder cannot be written or read (read-only, no permission, an I/O error).</summary>
    StorageError,

    /// <summary>The new slot failed its smoke test: it did not load, or did not give the recorded tokens.</summary>
    SmokeTestFailed,

    /// <summary>The new slot failed the health window after the switch, or the daemon kept crashing in it.</summary>
    HealthCheckFailed,

    /// <summary>Another update or health window is in progress.</summary>
    Busy,
}

/// <summary>The wire names of <see cref="OtaRefusalCode"/>: the constants of <see cref="Contracts.OtaRefusalCodes"/>.</summary>
public static class OtaRefusalCodeNames
{
    /// <summary>The wire name of <paramref name="code"/>, for example <c>hash_mismatch</c>.</summary>
    public static string WireName(this OtaRefusalCode code) => code switch
    {
        OtaRefusalCode.Signature => OtaRefusalCodes.Signature,
        OtaRefusalCode.HashMismatch => OtaRefusalCodes.HashMismatch,
        OtaRefusalCode.TooLarge => OtaRefusalCodes.TooLarge,
        OtaRefusalCode.TooSlow => OtaRefusalCodes.TooSlow,
        OtaRefusalCode.Expired => OtaRefusalCodes.Expired,
        OtaRefusalCode.Rollback => OtaRefusalCodes.Rollback,
        OtaRefusalCode.Inconsistent => OtaRefusalCodes.Inconsistent,
        OtaRefusalCode.UnsignedTarget => OtaRefusalCodes.UnsignedTarget,
        OtaRefusalCode.Incompatible => OtaRefusalCodes.Incompatible,
        OtaRefusalCode.Malformed => OtaRefusalCodes.Malformed,
        OtaRefusalCode.Unreachable => OtaRefusalCodes.Unreachable,
        OtaRefusalCode.StorageFull => OtaRefusalCodes.StorageFull,
        OtaRefusalCode.StorageError => OtaRefusalCodes.StorageError,
        OtaRefusalCode.SmokeTestFailed => OtaRefusalCodes.SmokeTestFailed,
        OtaRefusalCode.HealthCheckFailed => OtaRefusalCodes.HealthCheckFailed,
        OtaRefusalCode.Busy => OtaRefusalCodes.Busy,
        _ => throw new ArgumentOutOfRangeException(nameof(code), code, null),
    };
}

/// <summary>An update refused for <see cref="Code"/>, with a sentence for the technician that names the file and the reason.</summary>
/// <param name="Code">The class of the refusal.</param>
/// <param name="Message">What was refused and why, for example <c>targets.json: 1 valid signature of the 2 the targets role needs</c>.</param>
public sealed record OtaRefusal(OtaRefusalCode Code, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Code.WireName()}: {Message}";
}

/// <summary>
/// Carries an <see cref="OtaRefusal"/> out of the depth of an update to the one place that turns it into a result
/// (<see cref="OtaUpdater"/>); it never leaves this library.
/// </summary>
internal sealed class OtaRefusedException(OtaRefusal refusal) : Exception(refusal.ToString())
{
    public OtaRefusal Refusal { get; } = refusal;

    public static OtaRefusedException Of(OtaRefusalCode code, string message) => new(new OtaRefusal(code, message));
}
