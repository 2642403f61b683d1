using System.Text.RegularExpressions;

namespace Appliance.Contracts;

/// <summary>
/// The rules for identifiers that become a topic level or a file name: device ids and meeting session ids. Every entry
/// point (configuration, RPC parameters, topics) checks them here, so a value accepted in one place is accepted in all.
/// </summary>
public static partial class Identifiers
{
    /// <summary>The longest device or session id, in characters.</summary>
    public const int MaxLength = 64;

    /// <summary>
    /// Whether <paramref name="deviceId"/> may name a device: 1 to 64 ASCII letters, digits, <c>-</c> or <c>_</c>, so that
    /// it is one topic level with no wildcard or separator.
    /// </summary>
    /// <param name="deviceId">The candidate id; null is not valid.</param>
    /// <returns>True when the id is valid.</returns>
    public static bool IsValidDeviceId(string? deviceId) => deviceId is not null && DeviceIdPattern().IsMatch(deviceId);

    /// <summary>
    /// Whether <paramref name="sessionId"/> may name a meeting: 1 to 64 ASCII letters, digits, <c>_</c> or <c>-</c>, starting
    /// with a letter or digit (it is a topic level and a folder name, and never a hidden one).
    /// </summary>
    /// <param name="sessionId">The candidate id; null is not valid.</param>
    /// <returns>True when the id is valid.</returns>
    public static bool IsValidSessionId(string? sessionId) => sessionId is not null && SessionIdPattern().IsMatch(sessionId);

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex DeviceIdPattern();

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex SessionIdPattern();
}
