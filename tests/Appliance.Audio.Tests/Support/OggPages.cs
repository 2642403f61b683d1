using System.Buffers.Binary;

namespace Appliance.Audio.Tests.Support;

/// <summary>Edits the pages of an Ogg file in place (RFC 3533 framing) and recomputes each edited page's CRC.</summary>
internal static class OggPages
{
    private const int HeaderSize = 27;

    /// <summary>A copy of <paramref name="file"/> with every page's bitstream serial number set to <paramref name="serial"/>.</summary>
    public static byte[] WithSerial(byte[] file, uint serial)
    {
        var copy = (byte[])file.Clone();
        foreach (var (offset, length) in Pages(copy))
        {
            var page = copy.AsSpan(offset, length);
            BinaryPrimitives.WriteUInt32LittleEndian(page[14..], serial);
            Seal(page);
        }

        return copy;
    }

    /// <summary>
    /// A copy of an Ogg Opus file whose OpusHead (RFC 7845 §5.1, alone on the first page as encoders write it)
    /// declares <paramref name="preSkip"/> samples at 48 kHz to drop at the start.
    /// </summary>
    public static byte[] WithPreSkip(byte[] file, ushort preSkip)
    {
        var copy = (byte[])file.Clone();
        var (offset, length) = Pages(copy).First();
        var page = copy.AsSpan(offset, length);
        var head = page[(HeaderSize + page[26])..];
        Assert.True(head.StartsWith("OpusHead"u8), "the first page does not start with OpusHead");
        BinaryPrimitives.WriteUInt16LittleEndian(head[10..], preSkip);
        Seal(page);
        return copy;
    }

    /// <summary>The Ogg CRC-32 (polynomial 0x04C11DB7, not reflected, initial value 0) of a page whose CRC field is zero.</summary>
    public static uint Crc(ReadOnlySpan<byte> page)
    {
        var crc = 0u;
        foreach (var value in page)
        {
            crc ^= (uint)value << 24;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 0x80000000) != 0 ? (crc << 1) ^ 0x04C11DB7 : crc << 1;
            }
        }

        return crc;
    }

    /// <summary>Zeroes the page's CRC field and writes the CRC of the page into it.</summary>
    private static void Seal(Span<byte> page)
    {
        page[22..26].Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(page[22..], Crc(page));
    }

    /// <summary>Offset and length in bytes of each page, in file order; the file must hold whole pages only.</summary>
    private static IEnumerable<(int Offset, int Length)> Pages(byte[] file)
    {
        var offset = 0;
        while (offset < file.Length)
        {
            Assert.True(file.AsSpan(offset).StartsWith("OggS"u8), $"no Ogg page at byte {offset}");
            var segments = file[offset + 26];
            var length = HeaderSize + segments;
            foreach (var lacing in file.AsSpan(offset + HeaderSize, segments))
            {
                length += lacing;
            }

            yield return (offset, length);
            offset += length;
        }
    }
}
