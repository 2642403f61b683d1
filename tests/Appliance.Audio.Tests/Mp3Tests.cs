using Appliance.Audio.Tests.Support;
using Xunit.Abstractions;

namespace Appliance.Audio.Tests;

public sealed class Mp3Tests(ITestOutputHelper output)
{
    /// <summary>
    /// The LibriSpeech MP3 decodes to the same speech as its WAV twin: after aligning for the encoder and decoder
    /// delay (searched within ±100 ms), the correlation is at least 0.95 and the lengths agree within 100 ms.
    /// </summary>
    [Fact]
    [Trait("Category", "Shared")]
    public void Mp3MatchesItsWavTwin()
    {
        var mp3 = AudioFile.ReadMono16k(TestPaths.SharedFile("librispeech_1272-141231-0002.mp3"));
        var wav = AudioFile.ReadMono16k(TestPaths.SharedFile("librispeech_1272-141231-0002.wav"));
        Assert.True(mp3.Succeeded, mp3.Message);
        Assert.True(wav.Succeeded, wav.Message);
        Assert.Equal(AudioContainer.Mp3, mp3.Audio!.Container);

        var (correlation, lag) = Signals.BestCorrelation(wav.Audio!.Samples, mp3.Audio.Samples, 1600);
        output.WriteLine($"{mp3.Message}; correlation {correlation:F4} at lag {lag} samples; WAV {wav.Audio.Length} samples");
        Assert.True(correlation >= 0.95, $"correlation {correlation:F4}");
        Assert.InRange(mp3.Audio.Length - wav.Audio.Length, -1600, 1600);
    }

    [Fact]
    [Trait("Category", "Shared")]
    public void DamagedMp3IsAResult()
    {
        var bytes = File.ReadAllBytes(TestPaths.SharedFile("librispeech_1272-141231-0002.mp3"));
        var random = new Random(9);
        for (var round = 0; round < 20; round++)
        {
            var damaged = (byte[])bytes.Clone();
            for (var k = 0; k < 40; k++)
            {
                damaged[random.Next(64, damaged.Length)] = (byte)random.Next(256);
            }

            var result = AudioFile.ReadMono16k(new MemoryStream(damaged[..random.Next(200, damaged.Length)]));

            Assert.True(result.Succeeded || result.Error is AudioFileError.InvalidHeader or AudioFileError.NoAudio, result.Message);
        }
    }
}
