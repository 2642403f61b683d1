using Appliance.Voice;

namespace Appliance.Voice.Tests;

/// <summary>Tokens and spelled-out numbers, in the four languages voice commands ship with.</summary>
public sealed class UtteranceTextTests
{
    [Theory]
    [InlineData("Turn the VOLUME up to 20!", "en", "turn the volume up to 20")]
    [InlineData("turn the volume up to twenty", "en", "turn the volume up to 20")]
    [InlineData("set the freezer to minus twenty", "en", "set the freezer to -20")]
    [InlineData("set the freezer to -20°C", "en", "set the freezer to -20 c")]
    [InlineData("set the freezer to minus 20", "en", "set the freezer to -20")]
    [InlineData("channel one hundred and five", "en", "channel 105")]
    [InlineData("twenty one", "en", "21")]
    [InlineData("fifteen one", "en", "15 1")]
    [InlineData("twenty twenty", "en", "20 20")]
    [InlineData("two thousand twenty six", "en", "2026")]
    [InlineData("what's on", "en", "whats on")]
    [InlineData("ｖｏｌｕｍｅ ２０", "en", "volume 20")] // full-width forms (NFKC)
    [InlineData("volume and", "en", "volume and")]
    [InlineData("بیست و یک", "fa", "21")]
    [InlineData("منفی بیست", "fa", "-20")]
    [InlineData("دویست و پنجاه", "fa", "250")]
    [InlineData("صدا ۲۰", "fa", "صدا 20")] // Persian digits
    [InlineData("خمسة وعشرون", "ar", "25")]
    [InlineData("ثلاثة عشر", "ar", "13")]
    [InlineData("ناقص عشرين", "ar", "-20")]
    [InlineData("مائة", "ar", "100")]
    [InlineData("الصوت ٢٠", "ar", "الصوت 20")] // Arabic-Indic digits
    [InlineData("اَلصَّوْتُ", "ar", "الصوت")] // short vowels dropped
    [InlineData("音量二十一", "zh", "音 量 21")]
    [InlineData("负二十", "zh", "-20")]
    [InlineData("一百二十", "zh", "120")]
    [InlineData("十五", "zh", "15")]
    [InlineData("go to channel two and three", "en", "go to channel 2 and 3")] // "and" joins parts of one number only
    [InlineData("twenty and twenty", "en", "20 and 20")]
    [InlineData("one thousand two thousand", "en", "1002 1000")] // never 3000: a second thousand starts a new number
    [InlineData("one thousand and five", "en", "1005")]
    [InlineData("کانال دو و سه", "fa", "کانال 2 و 3")]
    [InlineData("بیست و بیست", "fa", "20 و 20")]
    [InlineData("خمسة و عشرون", "ar", "25")]
    [InlineData("零下十八度", "zh", "-18 度")]
    [InlineData("一百零五", "zh", "105")] // a zero that holds a place
    [InlineData("一千零一", "zh", "1001")]
    [InlineData("二零五", "zh", "205")] // said digit by digit
    [InlineData("零", "zh", "0")]
    [InlineData("مئة وخمسة", "ar", "105")] // "and" written onto the unit
    [InlineData("مئة وخمسة وعشرون", "ar", "125")]
    [InlineData("ثلاثمئة وخمسة", "ar", "305")]
    [InlineData("مئتان", "ar", "200")]
    [InlineData("عشرون خمسة", "ar", "20 5")] // Arabic says the unit first
    [InlineData("سیصد و پنج", "fa", "305")]
    [InlineData("switch to HDMI1", "en", "switch to hdmi 1")]
    [InlineData("-18°C", "en", "-18 c")]
    [InlineData("20c", "en", "20 c")]
    [InlineData("ارفع الصوت ثلاث درجات", "ar", "ارفع الصوت 3 درجات")]
    [InlineData("turn on twenty", "de", "turn on twenty")] // no number words for the language: kept
    public void Words_become_tokens_and_numbers_become_digits(string text, string language, string tokens)
    {
        Assert.Equal(tokens, string.Join(' ', UtteranceText.Tokens(text, language)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("?!… — ¿")]
    public void Nothing_but_punctuation_gives_no_tokens(string text)
    {
        Assert.Empty(UtteranceText.Tokens(text, "en"));
    }

    [Fact]
    public void Arabic_and_persian_spellings_of_the_same_letters_give_the_same_token()
    {
        Assert.Equal(UtteranceText.Tokens("يک", "fa"), UtteranceText.Tokens("یک", "fa"));
        Assert.Equal(UtteranceText.Tokens("كتاب", "fa"), UtteranceText.Tokens("کتاب", "fa"));
    }

    [Theory]
    [InlineData("燕麦奶", "燕麦奶")]
    [InlineData("oat milk", "oat milk")]
    [InlineData("有机 milk 两盒", "有机 milk 2 盒")]
    public void Text_slot_words_are_joined_with_spaces_but_han_characters_are_not(string text, string joined)
    {
        Assert.Equal(joined, UtteranceText.Join(UtteranceText.Tokens(text, "zh")));
    }
}
