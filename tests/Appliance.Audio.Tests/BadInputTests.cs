using Appliance.Audio.Tests.Support;

namespace Appliance.Audio.Tests;

/// <summary>Bad input gives a clear result, never an unhandled exception.</summary>
public sealed class BadInputTests
{
    private static readonly float[] Tone = Signals.Sine(440, 16000, 0.25);

    // 416 bytes AFL++ (with SharpFuzz) made from a tiny WAV: an MPEG-1 frame header, then a RIFF/WAVE header.
    private const string FuzzedMp3WithRiffHeader = "//qA+vr6+lJJRka0AQAAV0FWRWZtdCAQAAAAAQABAIA+AAAAfQAAAgAUAGBgYGBgYGBgYGBgYGBgYGBgYGBgYGAUAGRhdGGQAQAAAAEAAPwBAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQAAAQAB8AAAAQABAAFAAQABAAEAAQABAAEAAfYBAAEAAQABAAEAAQABAAEAAQABAAEAAQAVAAEAAQABAAEAAQCAAAEAAQABAAEAAQABAAEAAQgBAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAeAAAAEAAQAAAQABAAEAAQABAAEAAQABAAEAAQAAAQABAAEAAQABAAEAAQABAAH/AQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEAAQABAAEXFxcAAQABAAEAAQABAAEAAQABAAEAAQA=";

    /// <summary>
    /// Found by fuzzing: the managed MP3 decoder walked the chunks of a RIFF header inside an MP3 stream forever. The
    /// input as found, and with its fmt chunk's size pointing back, far ahead and around the 32-bit range, ends in a
    /// result within the minute the test allows (a decode of it takes milliseconds).
    /// </summary>
    [Theory]
    [InlineData(null)]
    [InlineData(-8)]
    [InlineData(-4)]
    [InlineData(-20)]
    [InlineData(int.MaxValue)]
    [InlineData(int.MinValue)]
    public async Task An_mp3_stream_with_a_riff_header_inside_ends_in_a_result(int? fmtChunkSize)
    {
        var bytes = Convert.FromBase64String(FuzzedMp3WithRiffHeader);
        Assert.Equal("RIFF"u8.ToArray(), bytes[7..11]);
        if (fmtChunkSize is { } size)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(23), size);
        }

        var result = await Task.Run(() => AudioFile.Read(new MemoryStream(bytes))).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.True(result.Succeeded || result.Error is AudioFileError.InvalidHeader or AudioFileError.NoAudio, result.Message);
    }

    [Fact]
    public void EmptyFileIsEmpty()
    {
        Assert.Equal(AudioFileError.Empty, AudioFile.Read(new MemoryStream()).Error);
        Assert.Equal(AudioFileError.Empty, AudioFile.ReadMono16k(new MemoryStream()).Error);
        Assert.Equal(AudioFileError.Empty, AudioFile.ReadRawPcm(new MemoryStream(), new PcmFormat(16000, 1, PcmEncoding.S16LE)).Error);
    }

    [Fact]
    public void TruncatedDataIsReadAndFlagged()
    {
        var bytes = WavBuilder.Build(Tone, 16000, 1, 16);
        var cut = bytes[..(bytes.Length - 1001)]; // mid-sample too

        var result = AudioFile.Read(new MemoryStream(cut));

        Assert.True(result.Succeeded, result.Message);
        Assert.True(result.Audio!.IsTruncated);
        Assert.Equal(Tone.Length - 501, result.Audio.Length);
        Assert.Contains("truncated", result.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(12)]
    [InlineData(20)]
    [InlineData(30)]
    [InlineData(40)]
    public void TruncatedHeaderIsInvalidHeader(int length)
    {
        var bytes = WavBuilder.Build(Tone, 16000, 1, 16)[..length];

        var result = AudioFile.Read(new MemoryStream(bytes));

        Assert.False(result.Succeeded);
        Assert.True(result.Error is AudioFileError.InvalidHeader or AudioFileError.UnrecognizedFormat, $"{result.Error}: {result.Message}");
    }

    /// <summary>
    /// Byte rate and block align are derived fields: as in ffmpeg, the sample rate, channel count and width decide,
    /// and a derived field that contradicts them is a warning.
    /// </summary>
    [Fact]
    public void DerivedFieldsThatContradictTheFormatAreWarnings()
    {
        // The rate says 44.1 kHz but the byte rate says 16 kHz: the rate field is the one a player uses.
        var rate = AudioFile.Read(new MemoryStream(WavBuilder.Build(Tone, 16000, 1, 16, declaredRate: 44100)));
        var blockAlign = AudioFile.Read(new MemoryStream(WavBuilder.Build(Tone, 16000, 1, 16, declaredBlockAlign: 4, declaredByteRate: 64000)));

        Assert.True(rate.Succeeded, rate.Message);
        Assert.Equal((44100, Tone.Length), (rate.Audio!.SampleRate, rate.Audio.Length));
        Assert.Contains(rate.Audio.Warnings, w => w.Contains("byte rate", StringComparison.Ordinal));
        Assert.True(blockAlign.Succeeded, blockAlign.Message);
        Assert.Equal((16000, Tone.Length), (blockAlign.Audio!.SampleRate, blockAlign.Audio.Length));
        Assert.Contains(blockAlign.Audio.Warnings, w => w.Contains("block align 4", StringComparison.Ordinal));
    }

    [Fact]
    public void HeaderWithImpossibleRateIsInvalid()
    {
        var result = AudioFile.Read(new MemoryStream(WavBuilder.Build(Tone, 16000, 1, 16, declaredRate: 5, declaredByteRate: 10)));

        Assert.Equal(AudioFileError.InvalidHeader, result.Error);
    }

    [Fact]
    public void DataSizeLargerThanTheFileIsTruncatedNotAnAllocation()
    {
        var bytes = WavBuilder.Build(Tone, 16000, 1, 16, declaredDataLength: int.MaxValue - 100);

        var result = AudioFile.Read(new MemoryStream(bytes));

        Assert.True(result.Succeeded, result.Message);
        Assert.True(result.Audio!.IsTruncated);
        Assert.Equal(Tone.Length, result.Audio.Length);
    }

    /// <summary>
    /// RF64: the data size lives in the ds64 chunk (the data chunk says 0xFFFFFFFF). A real size is used; one beyond
    /// what any file holds (2^63 and up, negative as a signed number) is read as "to the end", never as an allocation.
    /// </summary>
    [Theory]
    [InlineData(2000UL, 1000, false)]
    [InlineData(0xFFFFFFFFFFFFFFFFUL, 2000, false)]
    [InlineData(0x8000000000000000UL, 2000, false)]
    [InlineData(1UL << 40, 2000, true)]
    public void Rf64SizesComeFromTheDs64Chunk(ulong ds64DataSize, int samples, bool truncated)
    {
        var wav = WavBuilder.Build(Tone[..2000], 16000, 1, 16);
        var data = wav.AsSpan(44).ToArray(); // the builder writes the canonical 44-byte header
        using var rf64 = new MemoryStream();
        using (var writer = new BinaryWriter(rf64, System.Text.Encoding.ASCII, leaveOpen: true))
        {
            writer.Write("RF64"u8);
            writer.Write(uint.MaxValue);
            writer.Write("WAVE"u8);
            writer.Write("ds64"u8);
            writer.Write(28u);
            writer.Write(0UL);
            writer.Write(ds64DataSize);
            writer.Write(0UL);
            writer.Write(0u);
            writer.Write(wav.AsSpan(12, 24)); // fmt chunk
            writer.Write("data"u8);
            writer.Write(uint.MaxValue);
            writer.Write(data);
        }

        rf64.Position = 0;
        var result = AudioFile.Read(rf64);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal((samples, truncated), (result.Audio!.Length, result.Audio.IsTruncated));
    }

    [Fact]
    public void DataSizeSmallerThanTheFileReadsOnlyTheDeclaredData()
    {
        var bytes = WavBuilder.Build(Tone, 16000, 1, 16, declaredDataLength: 200);

        var result = AudioFile.Read(new MemoryStream(bytes));

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal(100, result.Audio!.Length);
    }

    [Fact]
    public void WavWithNoSamplesIsNoAudio()
    {
        Assert.Equal(AudioFileError.NoAudio, AudioFile.Read(new MemoryStream(WavBuilder.Build([], 16000, 1, 16))).Error);
    }

    [Fact]
    public void AdpcmWavIsUnsupported()
    {
        var bytes = WavBuilder.Build(Tone, 16000, 1, 16);
        bytes[20] = 2; // format tag 2: Microsoft ADPCM

        Assert.Equal(AudioFileError.UnsupportedEncoding, AudioFile.Read(new MemoryStream(bytes)).Error);
    }

    [Fact]
    public void RandomBytesAreUnrecognised()
    {
        var random = new Random(3);
        for (var i = 0; i < 50; i++)
        {
            var bytes = new byte[random.Next(1, 5000)];
            random.NextBytes(bytes);
            bytes[0] = 0x12; // not a sync byte or a magic number

            Assert.Equal(AudioFileError.UnrecognizedFormat, AudioFile.Read(new MemoryStream(bytes)).Error);
        }
    }

    /// <summary>Garbage behind each magic number reaches each decoder; every outcome must be a result value.</summary>
    [Theory]
    [InlineData("RIFF")]
    [InlineData("OggS")]
    [InlineData("ID3")]
    [InlineData("MPEG")]
    public void GarbageBehindAMagicNumberIsAResult(string magic)
    {
        var random = new Random(magic.Length);
        for (var i = 0; i < 40; i++)
        {
            var bytes = new byte[random.Next(0, 4000) + 16];
            random.NextBytes(bytes);
            var prefix = magic switch
            {
                "RIFF" => "RIFF\0\0\0\0WAVE"u8.ToArray(),
                "MPEG" => [0xFF, 0xFB, 0x90, 0x64],
                _ => System.Text.Encoding.ASCII.GetBytes(magic),
            };
            prefix.CopyTo(bytes, 0);

            var result = AudioFile.ReadMono16k(new MemoryStream(bytes));

            Assert.True(result.Succeeded || result.Error != AudioFileError.None, result.Message);
            Assert.False(string.IsNullOrEmpty(result.Message));
        }
    }
}
