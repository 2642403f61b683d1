using Appliance.Audio.Tests.Support;
using Appliance.Tests.Common;
using Xunit.Abstractions;

namespace Appliance.Audio.Tests;

/// <summary>
/// The container cases from the field (../shared/cases, described in its README), each with its right value. The
/// whole kind of each fault is held by <see cref="ContainerCorpusTests"/> on generated variants.
/// </summary>
[Trait("Category", "Shared")]
public sealed class FieldCaseTests(ITestOutputHelper output)
{
    /// <summary>
    /// wav-oddpad: a 17-byte LIST chunk padded with 0xE9 before the data. All 11.0 s are read (176000 samples), and
    /// they are ffmpeg's samples exactly.
    /// </summary>
    [Fact]
    public void Wav_with_a_non_zero_pad_byte_after_an_odd_chunk_is_read_whole()
    {
        var path = TestPaths.SharedCaseFile("wav-oddpad", "wav_list_oddpad.wav");

        var result = AudioFile.Read(path);

        Assert.True(result.Succeeded, result.Message);
        Assert.Equal((176000, 16000, 1), (result.Audio!.Length, result.Audio.SampleRate, result.Audio.Channels));
        Assert.Equal(Ffmpeg.DecodeFloat(path), result.Audio.Samples);
    }

    /// <summary>
    /// wav-byterate: a byte-rate field that contradicts the sample format, as a browser recorder writes it. Each file
    /// is read whole (11.0 s, ffmpeg's samples) and the mismatch is a warning.
    /// </summary>
    [Theory]
    [InlineData("wav_recordrtc_byterate.wav", 44100, 2)]
    [InlineData("wav_recordrtc76_mono_byterate.wav", 16000, 1)]
    public void Wav_with_a_contradicting_byte_rate_is_read_with_a_warning(string file, int sampleRate, int channels)
    {
        var path = TestPaths.SharedCaseFile("wav-byterate", file);

        var result = AudioFile.Read(path);

        Assert.True(result.Succeeded, result.Message);
        output.WriteLine(result.Message);
        Assert.Equal((sampleRate, channels), (result.Audio!.SampleRate, result.Audio.Channels));
        Assert.Equal(11.0, result.Audio.Duration.TotalSeconds, 6);
        Assert.Contains(result.Audio.Warnings, w => w.Contains("byte rate", StringComparison.Ordinal));
        Assert.Equal(Ffmpeg.DecodeFloat(path), result.Audio.Samples);
    }

    /// <summary>
    /// ogg-chained: an 11.0 s and a 5.0 s Ogg Opus recording joined end to end, with two serial numbers or one. Both
    /// give 16.0 s, as opusdec does: each link's pre-skip dropped and its end trimmed to its own last granule.
    /// </summary>
    [Theory]
    [InlineData("ogg_chained.opus")]
    [InlineData("ogg_chained_same_serial.opus")]
    public void Chained_ogg_opus_decodes_every_link(string file)
    {
        var result = AudioFile.Read(TestPaths.SharedCaseFile("ogg-chained", file));

        Assert.True(result.Succeeded, result.Message);
        output.WriteLine(result.Message);
        Assert.Equal(48000 * 16, result.Audio!.Length);
        Assert.Equal(0, result.Audio.FramesSkipped);
        Assert.False(result.Audio.IsTruncated);
    }
}
