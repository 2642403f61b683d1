using System.Buffers.Binary;
using System.Text;

namespace Appliance.Audio.Tests.Support;

/// <summary>
/// One chunk of a RIFF file as it is written: the four-character id, the body, the size the header declares (the
/// body's length unless stated) and the pad byte written after an odd-sized body (RIFF says 0; writers leave junk).
/// </summary>
internal sealed record RiffChunk(string Id, byte[] Body, uint? DeclaredSize = null, byte PadByte = 0);

/// <summary>Writes RIFF/WAVE files chunk by chunk, so a test controls chunk order, sizes and pad bytes.</summary>
internal static class RiffWriter
{
    private static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    private static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    /// <summary>"RIFF", the declared size (by default the true one), "WAVE", then each chunk with its pad byte.</summary>
    public static byte[] Write(IEnumerable<RiffChunk> chunks, uint? declaredRiffSize = null)
    {
        using var body = new MemoryStream();
        Span<byte> header = stackalloc byte[8];
        foreach (var chunk in chunks)
        {
            Encoding.ASCII.GetBytes(chunk.Id, header[..4]);
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], chunk.DeclaredSize ?? (uint)chunk.Body.Length);
            body.Write(header);
            body.Write(chunk.Body);
            if (chunk.Body.Length % 2 == 1)
            {
                body.WriteByte(chunk.PadByte);
            }
        }

        var file = new byte[12 + body.Length];
        "RIFF"u8.CopyTo(file);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(4), declaredRiffSize ?? (uint)(4 + body.Length));
        "WAVE"u8.CopyTo(file.AsSpan(8));
        body.ToArray().CopyTo(file, 12);
        return file;
    }

    /// <summary>
    /// The "fmt " chunk: format tag 1 (PCM), 3 (float) or 0xFFFE (extensible, with <paramref name="channelMask"/>).
    /// The byte rate (bytes per second) and block align (bytes per sample frame) are derived unless stated.
    /// </summary>
    public static RiffChunk Format(
        int sampleRate,
        int channels,
        int bitsPerSample,
        bool isFloat,
        bool extensible = false,
        uint channelMask = 0,
        int? declaredByteRate = null,
        int? declaredBlockAlign = null)
    {
        var blockAlign = channels * bitsPerSample / 8;
        var body = new byte[extensible ? 40 : 16];
        BinaryPrimitives.WriteUInt16LittleEndian(body, (ushort)(extensible ? 0xFFFE : isFloat ? 3 : 1));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(2), (ushort)channels);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), sampleRate);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), declaredByteRate ?? (sampleRate * blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(12), (ushort)(declaredBlockAlign ?? blockAlign));
        BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(14), (ushort)bitsPerSample);
        if (extensible)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(16), 22);
            BinaryPrimitives.WriteUInt16LittleEndian(body.AsSpan(18), (ushort)bitsPerSample); // valid bits
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(20), channelMask);
            (isFloat ? FloatSubFormat : PcmSubFormat).TryWriteBytes(body.AsSpan(24));
        }

        return new RiffChunk("fmt ", body);
    }

    /// <summary>The "data" chunk holding <paramref name="interleaved"/> in the given encoding.</summary>
    public static RiffChunk Data(float[] interleaved, int bitsPerSample, bool isFloat, uint? declaredSize = null, byte padByte = 0) =>
        new("data", WavBuilder.Encode(interleaved, bitsPerSample, isFloat), declaredSize, padByte);

    /// <summary>A "LIST" chunk of type INFO with one INAM (title) entry, padded inside to an even size.</summary>
    public static RiffChunk InfoList(string title)
    {
        var text = Encoding.ASCII.GetBytes(title + "\0");
        using var body = new MemoryStream();
        body.Write("INFO"u8);
        body.Write("INAM"u8);
        Span<byte> size = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(size, (uint)text.Length);
        body.Write(size);
        body.Write(text);
        if (text.Length % 2 == 1)
        {
            body.WriteByte(0);
        }

        return new RiffChunk("LIST", body.ToArray());
    }

    /// <summary>A "fact" chunk stating the length in samples per channel.</summary>
    public static RiffChunk Fact(int samplesPerChannel)
    {
        var body = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(body, samplesPerChannel);
        return new RiffChunk("fact", body);
    }

    /// <summary>A "cue " chunk with one cue point at <paramref name="samplePosition"/> (samples per channel).</summary>
    public static RiffChunk Cue(int samplePosition)
    {
        var body = new byte[4 + 24];
        BinaryPrimitives.WriteInt32LittleEndian(body, 1);
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(4), 1); // cue id
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(8), samplePosition);
        "data"u8.CopyTo(body.AsSpan(12));
        BinaryPrimitives.WriteInt32LittleEndian(body.AsSpan(24), samplePosition); // sample offset
        return new RiffChunk("cue ", body);
    }
}
