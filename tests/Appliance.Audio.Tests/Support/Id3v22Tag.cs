using System.Text;

namespace Appliance.Audio.Tests.Support;

/// <summary>
/// Writes an ID3v2.2 tag (three-character frame ids, 24-bit frame sizes), which ffmpeg no longer writes: a title
/// (TT2) and a front cover (PIC), no unsynchronisation, so the picture's 0xFF bytes stand as they are.
/// </summary>
internal static class Id3v22Tag
{
    /// <summary>The whole tag: the 10-byte header with its synchsafe size, then the TT2 and PIC frames.</summary>
    public static byte[] Build(string title, byte[] jpegCover)
    {
        using var frames = new MemoryStream();
        WriteFrame(frames, "TT2", [0, .. Encoding.Latin1.GetBytes(title)]); // 0: ISO-8859-1
        // Text encoding 0, image format "JPG", picture type 3 (front cover), empty description, the picture.
        WriteFrame(frames, "PIC", [0, .. "JPG"u8, 3, 0, .. jpegCover]);

        var size = (int)frames.Length;
        Assert.True(size < 1 << 28, "an ID3v2 tag holds at most 2^28 - 1 bytes");
        byte[] header =
        [
            .. "ID3"u8, 2, 0, 0,
            (byte)((size >> 21) & 0x7F), (byte)((size >> 14) & 0x7F), (byte)((size >> 7) & 0x7F), (byte)(size & 0x7F),
        ];
        return [.. header, .. frames.ToArray()];
    }

    private static void WriteFrame(Stream stream, string id, byte[] body)
    {
        stream.Write(Encoding.ASCII.GetBytes(id));
        stream.Write([(byte)(body.Length >> 16), (byte)(body.Length >> 8), (byte)body.Length]);
        stream.Write(body);
    }
}
