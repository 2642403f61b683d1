namespace Appliance.Audio.Tests;

/// <summary>Sample positions and times at 16 kHz.</summary>
public sealed class SpeechAudioTests
{
    [Fact]
    public void Every_sample_position_stored_as_a_time_comes_back_as_the_same_sample()
    {
        // A transcript checkpoint is stored as a time and read back as a sample position: one sample short would
        // transcribe an utterance again after a restart. Through doubles (n / 16000.0 * 16000, truncated) 1001 came back as 1000.
        for (long n = 0; n < 10 * 60 * SpeechAudio.SampleRate; n++)
        {
            var time = SpeechAudio.Duration(n);
            Assert.Equal(n * 625, time.Ticks);
            Assert.Equal(n, SpeechAudio.Samples(time));
        }

        Assert.Equal(TimeSpan.FromHours(30), SpeechAudio.Duration(30L * 3600 * SpeechAudio.SampleRate));
        Assert.Equal(16000, SpeechAudio.Samples(TimeSpan.FromSeconds(1) + TimeSpan.FromTicks(312)));
        Assert.Equal(16001, SpeechAudio.Samples(TimeSpan.FromSeconds(1) + TimeSpan.FromTicks(313)));
    }
}
