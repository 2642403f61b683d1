using System.Buffers.Binary;
using System.IO.Hashing;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>How a file is damaged: cut short at the offset, or overwritten with garbage from it.</summary>
internal enum DamageKind
{
    Truncated,
    Overwritten,
}

/// <summary>One file damaged by the torn-write campaign.</summary>
/// <param name="File">The file's name in its session folder.</param>
/// <param name="Kind">Cut or overwritten.</param>
/// <param name="Offset">The first damaged byte.</param>
/// <param name="Length">The file's length before the damage.</param>
internal sealed record Damage(string File, DamageKind Kind, long Offset, long Length);

/// <summary>
/// The campaign's own reading of the daemon's journal format, independent of the daemon's code, and the damage it
/// does. The format (docs/mqtt-api.md, "CRC-checked"): an 8-byte magic, then records of [int32 LE body length][body]
/// [uint32 LE CRC-32 of the length and the body].
/// </summary>
internal static class JournalFile
{
    private const int HeaderBytes = 8;

    /// <summary>The offset at which each complete, intact record of the journal at <paramref name="path"/> ends, in order, up to the first that is not.</summary>
    public static List<long> RecordEnds(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var ends = new List<long>();
        long at = HeaderBytes;
        while (at + 8 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan((int)at));
            if (length < 0 || at + 8 + length > bytes.Length)
            {
                break;
            }

            var record = bytes.AsSpan((int)at, 4 + length);
            if (Crc32.HashToUInt32(record) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan((int)at + 4 + length)))
            {
                break;
            }

            at += 8 + length;
            ends.Add(at);
        }

        return ends;
    }

    /// <summary>How many of the records ending at <paramref name="ends"/> lie wholly before the damage: what a reopen must keep.</summary>
    public static int RecordsBefore(List<long> ends, long offset) => offset < HeaderBytes ? 0 : ends.Count(end => end <= offset);

    /// <summary>
    /// Damages the file at <paramref name="path"/>: from a random offset within its last <paramref name="tailBytes"/>
    /// bytes, cut it there, or overwrite up to <paramref name="maxOverwrite"/> bytes from there, each with a byte that differs.
    /// </summary>
    public static Damage Apply(string path, Random random, long tailBytes, int maxOverwrite)
    {
        var bytes = File.ReadAllBytes(path);
        var offset = bytes.Length - 1 - random.NextInt64(Math.Min(tailBytes, bytes.Length));
        var kind = random.Next(2) == 0 ? DamageKind.Truncated : DamageKind.Overwritten;
        if (kind == DamageKind.Truncated)
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Write);
            file.SetLength(offset);
        }
        else
        {
            var end = Math.Min(bytes.Length, offset + 1 + random.Next(maxOverwrite));
            for (var i = offset; i < end; i++)
            {
                bytes[i] ^= (byte)random.Next(1, 256);
            }

            File.WriteAllBytes(path, bytes);
        }

        return new Damage(Path.GetFileName(path), kind, offset, bytes.Length);
    }
}
