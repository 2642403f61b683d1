using Appliance.Speech.Tests.Support;
using Appliance.Speech.Whisper;

namespace Appliance.Speech.Tests;

/// <summary>Language tags as people and devices send them, normalised to Whisper's codes (field case meet-language-tag).</summary>
[Collection(ForgedWhisperGroup.Name)]
public sealed class WhisperLanguagesTests(ForgedWhisperModel model)
{
    [Theory]
    [InlineData("en", "en")]
    [InlineData("en-US", "en")]
    [InlineData("EN", "en")]
    [InlineData("fa-IR", "fa")]
    [InlineData("zh-Hans", "zh")]
    [InlineData("zh_Hant_TW", "zh")]
    [InlineData("AR-eg", "ar")]
    [InlineData(" de-CH ", "de")]
    [InlineData("jv-ID", "jw")]
    [InlineData("nb-NO", "no")]
    [InlineData("haw", "haw")]
    [InlineData("xx", null)]
    [InlineData("english", null)]
    [InlineData("e", null)]
    [InlineData("", null)]
    [InlineData("-US", null)]
    public void Locale_tags_become_whisper_codes(string tag, string? code) => Assert.Equal(code, WhisperLanguages.Normalize(tag));

    [Fact]
    public void The_codes_are_the_language_tokens_of_a_multilingual_model_in_token_order()
    {
        var tokenizer = WhisperTokenizer.Load(Path.Combine(model.Directory, "tokenizer.json")).Value!;
        Assert.Equal(WhisperLanguages.Codes, tokenizer.LanguageIds.OrderBy(kv => kv.Value).Select(kv => kv.Key));
    }
}
