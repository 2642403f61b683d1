using Appliance.Voice;

namespace Appliance.Voice.Tests;

/// <summary>espeak-ng (installed by test.sh) speaking replies in the four languages, and its failures as errors.</summary>
public sealed class SpeechSynthesisTests
{
    [Theory]
    [InlineData("Volume 20.", "en")]
    [InlineData("صدا روی ۲۰.", "fa")]
    [InlineData("مستوى الصوت 20.", "ar")]
    [InlineData("音量20。", "zh")]
    public async Task A_reply_is_spoken_in_its_language(string text, string language)
    {
        var speech = await new EspeakNgSynthesizer().SynthesizeAsync(text, language, CancellationToken.None);

        Assert.Null(speech.Error);
        Assert.InRange(speech.Samples.Length / 16000.0, 0.3, 10);
        Assert.True(speech.Samples.Max(Math.Abs) > 0.05f, "the speech is not silent");
    }

    [Fact]
    public async Task A_voice_espeak_ng_lacks_is_an_error_not_an_exception()
    {
        var speech = await new EspeakNgSynthesizer(new Dictionary<string, string> { ["en"] = "xx-none" }).SynthesizeAsync("hello", "en", CancellationToken.None);

        Assert.Empty(speech.Samples);
        Assert.StartsWith("espeak-ng failed (1):", speech.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Text_that_looks_like_options_is_spoken_not_obeyed()
    {
        var speech = await new EspeakNgSynthesizer().SynthesizeAsync("-w /tmp/owned.wav --stdin", "en", CancellationToken.None);

        Assert.Null(speech.Error);
        Assert.False(File.Exists("/tmp/owned.wav"));
    }
}
