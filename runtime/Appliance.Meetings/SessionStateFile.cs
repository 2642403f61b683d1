using System.Globalization;
using System.IO.Hashing;
using System.Text;
using System.Text.Json;

namespace Appliance.Meetings;

/// <summary>
/// A session's state, kept in two copies so that damage to one loses nothing: <c>state.json</c> and its mirror,
/// <c>state.copy.json</c>, written one after the other with the same text, each atomically. Each copy is the state
/// document's JSON sealed by a last property, <c>"crc32":"xxxxxxxx"</c>: the CRC-32 (IEEE, as in the journals) of the
/// same text without that property, in 8 lower-case hex digits. A copy that is missing, unreadable, fails its checksum,
/// or is not a state document of its folder is damaged; at load the other copy is used and the damaged one rewritten
/// from it. A crash between the two writes leaves the mirror one change behind: <c>state.json</c> is then whole and
/// wins, and the mirror is brought up to it. State files of version 1 (written before the seal existed) load unsealed.
/// </summary>
internal static class SessionStateFile
{
    public const string CurrentName = "state.json";
    public const string MirrorName = "state.copy.json";

    /// <summary>The version of the state document since the seal: a document of this version or later must carry one.</summary>
    public const int SealedVersion = 2;
    private static readonly byte[] SealStart = ",\"crc32\":\""u8.ToArray();
    private static readonly int SealLength = SealStart.Length + 8 + 2; // the property, its 8 hex digits, "}

    /// <summary>Saves the state to <c>state.json</c>, then the same text to its mirror, each replaced atomically.</summary>
    /// <exception cref="IOException">The disk refused a step; each copy holds its old or its new text, whole.</exception>
    public static void Save(string directory, SessionStateDocument state)
    {
        state.Version = SealedVersion;
        var text = Seal(JsonSerializer.SerializeToUtf8Bytes(state, MeetingJson.Default.SessionStateDocument));
        AtomicFile.Write(Path.Combine(directory, CurrentName), text);
        AtomicFile.Write(Path.Combine(directory, MirrorName), text);
    }

    /// <summary>
    /// Loads the state of the session folder <paramref name="directory"/>: <c>state.json</c> when it is whole, else the
    /// mirror. A damaged copy is rewritten from the whole one, and a mirror that is missing (a folder of an older
    /// version) or behind is brought up to date, as well as the disk allows: what could not be written is written
    /// again by the next save.
    /// </summary>
    /// <param name="directory">The session folder; its name is the session id the state must name.</param>
    /// <param name="repair">What was damaged and restored, for the log, or null when nothing was.</param>
    /// <exception cref="InvalidDataException">Neither copy is whole; the message says why for each.</exception>
    public static SessionStateDocument Load(string directory, out string? repair)
    {
        var sessionId = Path.GetFileName(directory);
        var currentPath = Path.Combine(directory, CurrentName);
        var mirrorPath = Path.Combine(directory, MirrorName);
        var current = TryRead(currentPath, sessionId, out var currentBytes, out var currentProblem);
        var mirror = TryRead(mirrorPath, sessionId, out var mirrorBytes, out var mirrorProblem);
        repair = null;
        if (current is not null)
        {
            if (mirror is null || !mirrorBytes.AsSpan().SequenceEqual(currentBytes))
            {
                TryRestore(mirrorPath, currentBytes!);
                repair = mirror is null && mirrorProblem != Missing ? $"{MirrorName} {mirrorProblem}; restored from {CurrentName}" : null;
            }

            return current;
        }

        if (mirror is null)
        {
            throw new InvalidDataException(currentProblem == Missing && mirrorProblem == Missing
                ? $"no {CurrentName}"
                : $"{CurrentName} {currentProblem}, and {MirrorName} {mirrorProblem}");
        }

        TryRestore(currentPath, mirrorBytes!);
        repair = $"{CurrentName} {currentProblem}; restored from {MirrorName}";
        return mirror;
    }

    private const string Missing = "is missing";

    /// <summary>The document of a whole copy, or null with why it is not one.</summary>
    private static SessionStateDocument? TryRead(string path, string sessionId, out byte[]? bytes, out string problem)
    {
        bytes = null;
        if (!File.Exists(path))
        {
            problem = Missing;
            return null;
        }

        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot be read ({e.Message})";
            return null;
        }

        var (json, sealProblem) = Unseal(bytes);
        if (sealProblem is not null)
        {
            problem = sealProblem;
            return null;
        }

        SessionStateDocument? state;
        try
        {
            state = JsonSerializer.Deserialize(json, MeetingJson.Default.SessionStateDocument);
        }
        catch (JsonException e)
        {
            problem = $"is not a state document ({e.Message})";
            return null;
        }

        problem = state is null ? "is empty"
            : state.Version >= SealedVersion && json.Length == bytes.Length ? "has lost its checksum"
            : !string.Equals(state.SessionId, sessionId, StringComparison.Ordinal) || state.Parameters?.Problem() is not null ? "does not describe this folder"
            : "";
        return problem.Length == 0 ? state : null;
    }

    /// <summary>Adds the seal before the closing brace of <paramref name="json"/>.</summary>
    private static byte[] Seal(byte[] json)
    {
        var checksum = Encoding.ASCII.GetBytes(Crc32.HashToUInt32(json).ToString("x8", CultureInfo.InvariantCulture));
        return [.. json.AsSpan(0, json.Length - 1), .. SealStart, .. checksum, (byte)'"', (byte)'}'];
    }

    /// <summary>The JSON without its seal (all of it when there is none), or why the seal does not match.</summary>
    private static (byte[] Json, string? Problem) Unseal(byte[] bytes)
    {
        var at = bytes.Length - SealLength;
        if (at <= 0 || !bytes.AsSpan(at, SealStart.Length).SequenceEqual(SealStart) || !bytes.AsSpan(bytes.Length - 2).SequenceEqual("\"}"u8))
        {
            return (bytes, null);
        }

        byte[] json = [.. bytes.AsSpan(0, at), (byte)'}'];
        var digits = Encoding.ASCII.GetString(bytes, at + SealStart.Length, 8);
        return uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var stored) && stored == Crc32.HashToUInt32(json)
            ? (json, null)
            : (json, "fails its checksum");
    }

    private static void TryRestore(string path, byte[] content)
    {
        try
        {
            AtomicFile.Write(path, content);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A read-only or full disk: the copy is rewritten by the next save.
        }
    }
}
