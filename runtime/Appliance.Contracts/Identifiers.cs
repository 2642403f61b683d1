using System.Text.RegularExpressions;

namespace Appliance.Contracts;

/// <summary>
/// The rules for identifiers that become a topic level or a file name, or name a thing the daemon keeps: device ids,
/// meeting session ids and model ids. Every entry point (configuration, device profiles, RPC parameters, topics, the
/// client library) checks them here, so a value accepted in one place is accepted in all; the device-profile schema
/// carries the same patterns (a test binds them).
/// </summary>
public static partial class Identifiers
{
    /// <summary>The longest device or session id, in characters.</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// Whether <paramref name="deviceId"/> may name a device (or a fleet group): 1 to 64 ASCII letters, digits, <c>-</c> or
    /// <c>_</c>, so that it is one topic level with no wildcard or separator, and not <c>fleet</c>, the level of the
    /// fleets' topics.
    /// </summary>
    /// <param name="deviceId">The candidate id; null is not valid.</param>
    /// <returns>True when the id is valid.</returns>
    public static bool IsValidDeviceId(string? deviceId) => deviceId is not null && DeviceIdPattern().IsMatch(deviceId) && deviceId != Topics.FleetLevel;

    /// <summary>
    /// Whether <paramref name="sessionId"/> may name a meeting: 1 to 64 ASCII letters, digits, <c>_</c> or <c>-</c>, starting
    /// with a letter or digit (it is a topic level and a folder name, and never a hidden one).
    /// </summary>
    /// <param name="sessionId">The candidate id; null is not valid.</param>
    /// <returns>True when the id is valid.</returns>
    public static bool IsValidSessionId(string? sessionId) => sessionId is not null && SessionIdPattern().IsMatch(sessionId);

    /// <summary>
    /// Whether <paramref name="modelId"/> may name a model: 1 to 128 ASCII letters, digits, <c>.</c>, <c>_</c> or
    /// <c>-</c>, starting with a letter or digit (<c>qwen2.5-1.5b-instruct</c>), so it is never a path or a wildcard.
    /// </summary>
    /// <param name="modelId">The candidate id; null is not valid.</param>
    /// <returns>True when the id is valid.</returns>
    public static bool IsValidModelId(string? modelId) => modelId is not null && ModelIdPattern().IsMatch(modelId);

    /// <summary>The rule of <see cref="IsValidDeviceId"/>, as a regular expression (also in the device-profile schema).</summary>
    public const string DeviceIdRule = "^[A-Za-z0-9_-]{1,64}$";

    /// <summary>The rule of <see cref="IsValidSessionId"/>, as a regular expression.</summary>
    public const string SessionIdRule = "^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$";

    /// <summary>The rule of <see cref="IsValidModelId"/>, as a regular expression (also in the device-profile schema).</summary>
    public const string ModelIdRule = "^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$";

    /// <summary>What a valid device id is, for error messages.</summary>
    public const string DeviceIdDescription = "1 to 64 ASCII letters, digits, '-' or '_', other than 'fleet'";

    /// <summary>What a valid session id is, for error messages.</summary>
    public const string SessionIdDescription = "1 to 64 ASCII letters, digits, '-' or '_', starting with a letter or digit";

    /// <summary>What a valid model id is, for error messages.</summary>
    public const string ModelIdDescription = "1 to 128 ASCII letters, digits, '.', '-' or '_', starting with a letter or digit";

    [GeneratedRegex(DeviceIdRule, RegexOptions.CultureInvariant)]
    private static partial Regex DeviceIdPattern();

    [GeneratedRegex(SessionIdRule, RegexOptions.CultureInvariant)]
    private static partial Regex SessionIdPattern();

    [GeneratedRegex(ModelIdRule, RegexOptions.CultureInvariant)]
    private static partial Regex ModelIdPattern();
}
