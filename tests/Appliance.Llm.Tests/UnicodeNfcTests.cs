namespace Appliance.Llm.Tests;

/// <summary>
/// NFC through the system's ICU, for tokenizers that declare it: the daemon runs with invariant globalization, where
/// <see cref="string.Normalize()"/> leaves text as it is. These machines (and CI) have Debian's libicu72.
/// </summary>
public sealed class UnicodeNfcTests
{
    [Theory]
    [InlineData("e\u0301t\u0065\u0301", "\u00e9t\u00e9")] // combining acute accents compose
    [InlineData("\u1100\u1161\u11a8", "\uac01")] // Hangul jamo compose into one syllable
    [InlineData("A\u030a\u0327", "\u00c5\u0327")] // ring above composes, the cedilla stays (no precomposed Å with cedilla)
    [InlineData("\u212b", "\u00c5")] // the Angstrom sign is a singleton: NFC maps it to Å
    [InlineData("\u00e9 already composed", "\u00e9 already composed")]
    public void Text_is_composed_as_Unicode_Annex_15_says(string text, string expected)
    {
        Assert.True(UnicodeNfc.IsAvailable, "libicuuc could not be loaded: apt-get install libicu72");
        Assert.Equal(expected, UnicodeNfc.Normalize(text));
    }

    [Fact]
    public void Text_under_U0300_is_returned_as_it_is_without_a_copy()
    {
        var text = "Turn on the kitchen lights, set the oven to 180 °C - ça va?";
        Assert.Same(text, UnicodeNfc.Normalize(text));
    }

    [Fact]
    public void A_text_longer_than_the_first_buffer_guess_is_normalized_whole()
    {
        // U+0958 has a canonical decomposition and is excluded from composition: NFC gives two characters for one.
        var text = string.Concat(Enumerable.Repeat("\u0958", 100));
        var normalized = UnicodeNfc.Normalize(text);
        Assert.Equal(200, normalized.Length);
        Assert.Equal(string.Concat(Enumerable.Repeat("\u0915\u093c", 100)), normalized);
    }
}
