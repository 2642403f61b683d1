using System.Buffers.Binary;
using NAudio.Wave;

namespace Appliance.Audio;

/// <summary>
/// Reads RIFF/WAVE and RF64 files (PCM 8/16/24/32-bit, IEEE float 32/64-bit, plain or extensible) the way ffmpeg
/// does: the data is trusted over derived or redundant header fields. The chunk list is walked here (NAudio parses
/// the format chunk): an odd-sized chunk is followed by a pad byte whatever it holds, a data size that is a
/// placeholder (0, 0x7FFFFFFF, 0xFFFFFFFF) means "to the end of the file", and a byte rate or block align that
/// contradicts the sample format is a warning, not an error. The stream must be seekable; it is not disposed.
/// </summary>
internal static class WavDecoder
{
    private static readonly Guid PcmSubFormat = new("00000001-0000-0010-8000-00aa00389b71");
    private static readonly Guid FloatSubFormat = new("00000003-0000-0010-8000-00aa00389b71");

    /// <summary>Data sizes that writers put in before they know the length (streaming, crashed or RF64 writers).</summary>
    private static readonly uint[] PlaceholderSizes = [0, 0x7FFFFFFF, 0xFFFFFFFF];

    public static AudioReadResult Read(Stream stream)
    {
        var layout = ChunkLayout.Walk(stream);
        if (layout.Problem is { } problem)
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, problem);
        }

        var format = layout.Format!;
        var isFloat = IsFloat(format);
        if (!isFloat && !IsPcm(format))
        {
            return AudioReadResult.Failure(AudioFileError.UnsupportedEncoding, $"WAV encoding {format.Encoding} is not PCM or IEEE float.");
        }

        var warnings = new List<string>(layout.Warnings);
        var rangeProblem = CheckFormat(format, isFloat, warnings, out var bytesPerSample);
        if (rangeProblem is not null)
        {
            return AudioReadResult.Failure(AudioFileError.InvalidHeader, rangeProblem);
        }

        var blockAlign = bytesPerSample * format.Channels;
        var frames = layout.DataLength / blockAlign;
        if (frames <= 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, "WAV data chunk holds no complete sample frame.");
        }

        if (frames * format.Channels > Array.MaxLength)
        {
            return AudioReadResult.Failure(AudioFileError.UnsupportedEncoding, $"WAV data of {frames} sample frames is larger than one buffer can hold.");
        }

        var samples = ReadSamples(stream, layout.DataOffset, (int)(frames * format.Channels), bytesPerSample, isFloat);
        var isTruncated = layout.IsTruncated || layout.DataLength % blockAlign != 0;
        return AudioReadResult.Success(new DecodedAudio(AudioContainer.Wav, samples, format.SampleRate, format.Channels, 0, isTruncated, warnings));
    }

    private static bool IsPcm(WaveFormat format) =>
        format.Encoding == WaveFormatEncoding.Pcm || SubFormat(format) == PcmSubFormat;

    private static bool IsFloat(WaveFormat format) =>
        format.Encoding == WaveFormatEncoding.IeeeFloat || SubFormat(format) == FloatSubFormat;

    /// <summary>The sub-format GUID of a WAVE_FORMAT_EXTENSIBLE header (NAudio keeps it in the extra bytes).</summary>
    private static Guid? SubFormat(WaveFormat format) => format switch
    {
        WaveFormatExtensible extensible => extensible.SubFormat,
        WaveFormatExtraData { Encoding: WaveFormatEncoding.Extensible, ExtraSize: >= 22 } extra => new Guid(extra.ExtraData.AsSpan(6, 16)),
        _ => null,
    };

    /// <summary>
    /// Returns why the format cannot be decoded, or null. The sample width is the container width (bits rounded up
    /// to whole bytes, as ffmpeg maps it); block align and byte rate are derived from it, and header values that
    /// contradict them are added to <paramref name="warnings"/>.
    /// </summary>
    private static string? CheckFormat(WaveFormat format, bool isFloat, List<string> warnings, out int bytesPerSample)
    {
        bytesPerSample = (format.BitsPerSample + 7) / 8;
        if (format.SampleRate is < PcmFormat.MinSampleRate or > PcmFormat.MaxSampleRate)
        {
            return $"WAV sample rate {format.SampleRate} Hz is outside {PcmFormat.MinSampleRate}..{PcmFormat.MaxSampleRate} Hz.";
        }

        if (format.Channels is < 1 or > PcmFormat.MaxChannels)
        {
            return $"WAV channel count {format.Channels} is outside 1..{PcmFormat.MaxChannels}.";
        }

        var widthValid = isFloat ? bytesPerSample is 4 or 8 : bytesPerSample is >= 1 and <= 4;
        if (!widthValid)
        {
            return $"WAV {(isFloat ? "float" : "PCM")} sample width {format.BitsPerSample} bits is not supported.";
        }

        var blockAlign = format.Channels * bytesPerSample;
        if (format.BlockAlign != blockAlign)
        {
            warnings.Add($"WAV block align {format.BlockAlign} contradicts {format.Channels} channel(s) of {format.BitsPerSample} bits; read as {blockAlign}.");
        }

        if ((long)format.AverageBytesPerSecond != (long)format.SampleRate * blockAlign)
        {
            warnings.Add($"WAV byte rate {format.AverageBytesPerSecond} contradicts {format.SampleRate} Hz × {blockAlign} bytes; ignored.");
        }

        return null;
    }

    /// <summary>Reads <paramref name="count"/> interleaved samples from <paramref name="offset"/>, a block at a time.</summary>
    private static float[] ReadSamples(Stream stream, long offset, int count, int bytesPerSample, bool isFloat)
    {
        var samples = new float[count];
        var chunk = new byte[bytesPerSample * 8192];
        stream.Position = offset;
        var written = 0;
        while (written < count)
        {
            var want = Math.Min(chunk.Length / bytesPerSample, count - written);
            var bytes = chunk.AsSpan(0, want * bytesPerSample);
            stream.ReadExactly(bytes);
            var destination = samples.AsSpan(written, want);
            if (isFloat)
            {
                SampleConversion.IeeeToFloat(bytes, bytesPerSample * 8, destination);
            }
            else
            {
                SampleConversion.PcmToFloat(bytes, bytesPerSample * 8, destination);
            }

            written += want;
        }

        return samples;
    }

    /// <summary>Where the format and the sample data are in a RIFF/WAVE or RF64 file, found by walking its chunks.</summary>
    private sealed class ChunkLayout
    {
        private const int ChunkHeaderSize = 8;

        public WaveFormat? Format { get; private set; }

        /// <summary>Byte offset of the first sample in the stream.</summary>
        public long DataOffset { get; private set; } = -1;

        /// <summary>Bytes of sample data present (the declared size, clamped to the file).</summary>
        public long DataLength { get; private set; }

        /// <summary>The data chunk declares more bytes than the file holds.</summary>
        public bool IsTruncated { get; private set; }

        /// <summary>Why no sample data can be located, or null.</summary>
        public string? Problem { get; private set; }

        public List<string> Warnings { get; } = [];

        public static ChunkLayout Walk(Stream stream)
        {
            var layout = new ChunkLayout();
            var start = stream.Position;
            var end = stream.Length;
            Span<byte> header = stackalloc byte[24];
            stream.ReadExactly(header[..12]);
            var isRf64 = header[..4].SequenceEqual("RF64"u8);
            long? ds64DataSize = null;

            var position = start + 12;
            while (position + ChunkHeaderSize <= end)
            {
                stream.Position = position;
                var chunk = header[..ChunkHeaderSize];
                var ds64 = header[ChunkHeaderSize..];
                stream.ReadExactly(chunk);
                var id = chunk[..4];
                uint size = BinaryPrimitives.ReadUInt32LittleEndian(chunk[4..]);
                var body = position + ChunkHeaderSize;

                if (id.SequenceEqual("ds64"u8) && size >= 16 && body + 16 <= end)
                {
                    stream.ReadExactly(ds64);
                    // A size beyond what a file can hold is no size at all: the data then runs to the end.
                    var size64 = BinaryPrimitives.ReadUInt64LittleEndian(ds64[8..]);
                    ds64DataSize = size64 <= long.MaxValue ? (long)size64 : null;
                }
                else if (id.SequenceEqual("fmt "u8) && layout.Format is null)
                {
                    var problem = layout.ReadFormat(stream, (int)Math.Min(size, end - body));
                    if (problem is not null)
                    {
                        layout.Problem = problem;
                        return layout;
                    }
                }
                else if (id.SequenceEqual("data"u8) && layout.DataOffset < 0)
                {
                    var declared = isRf64 && size == 0xFFFFFFFF && ds64DataSize is { } large ? large : (long)size;
                    var present = end - body;
                    var isPlaceholder = !(isRf64 && ds64DataSize.HasValue) && PlaceholderSizes.Contains(size);
                    layout.DataOffset = body;
                    layout.DataLength = isPlaceholder ? present : Math.Min(declared, present);
                    layout.IsTruncated = !isPlaceholder && declared > present;
                    if (isPlaceholder || layout.Format is not null)
                    {
                        break; // the data runs to the end, or everything needed is known
                    }

                    size = (uint)Math.Min(declared, uint.MaxValue);
                }

                position = NextChunk(stream, body, size, end);
            }

            if (layout.Format is null)
            {
                layout.Problem = "WAV file has no fmt chunk.";
            }
            else if (layout.DataOffset < 0)
            {
                layout.Problem = "WAV file has no data chunk.";
            }

            return layout;
        }

        private string? ReadFormat(Stream stream, int size)
        {
            if (size < 16)
            {
                return $"WAV fmt chunk of {size} bytes is shorter than 16.";
            }

            try
            {
                using var reader = new BinaryReader(stream, System.Text.Encoding.ASCII, leaveOpen: true);
                Format = WaveFormat.FromFormatChunk(reader, size);
                return null;
            }
            catch (Exception e) when (e is FormatException or EndOfStreamException or InvalidDataException or ArgumentException)
            {
                return $"WAV fmt chunk is unreadable: {e.Message}";
            }
        }

        /// <summary>
        /// The offset of the chunk after one of <paramref name="size"/> bytes at <paramref name="body"/>. The format
        /// pads an odd-sized chunk with one byte, whatever its value; a writer that left the pad out is recognised
        /// when a chunk id follows directly and none follows the pad.
        /// </summary>
        private static long NextChunk(Stream stream, long body, uint size, long end)
        {
            var next = body + size;
            if ((size & 1) == 0)
            {
                return next;
            }

            return !LooksLikeChunkId(stream, next + 1, end) && LooksLikeChunkId(stream, next, end) ? next : next + 1;
        }

        private static bool LooksLikeChunkId(Stream stream, long position, long end)
        {
            if (position + ChunkHeaderSize > end)
            {
                return false;
            }

            Span<byte> id = stackalloc byte[4];
            stream.Position = position;
            stream.ReadExactly(id);
            foreach (var value in id)
            {
                if (value is < 0x20 or > 0x7E)
                {
                    return false;
                }
            }

            return true;
        }
    }
}
