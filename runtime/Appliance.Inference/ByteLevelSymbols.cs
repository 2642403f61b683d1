namespace Appliance.Inference;

/// <summary>
/// The byte-level BPE alphabet of GPT-2 (used by Whisper, Qwen and DeepSeek-R1 tokenizers): each of the 256 byte
/// values is stored in <c>tokenizer.json</c> as one printable character, printable ASCII and Latin-1 bytes as
/// themselves and the rest as U+0100 onwards in byte order. Immutable; thread-safe.
/// </summary>
public static class ByteLevelSymbols
{
    private static readonly Dictionary<char, byte> s_byteOf = Build();
    private static readonly char[] s_symbolOf = [.. s_byteOf.OrderBy(pair => pair.Value).Select(pair => pair.Key)];

    /// <summary>The symbol that stands for <paramref name="value"/>.</summary>
    public static char SymbolOf(byte value) => s_symbolOf[value];

    /// <summary>The byte a symbol stands for; false for a character outside the alphabet.</summary>
    public static bool TryGetByte(char symbol, out byte value) => s_byteOf.TryGetValue(symbol, out value);

    /// <summary>
    /// The bytes a vocabulary entry stands for, one per symbol; null when a character is not of the alphabet (the
    /// entry is then not byte-level, e.g. an added token stored as plain text).
    /// </summary>
    public static byte[]? ToBytes(string symbols)
    {
        var bytes = new byte[symbols.Length];
        for (var i = 0; i < symbols.Length; i++)
        {
            if (!s_byteOf.TryGetValue(symbols[i], out bytes[i]))
            {
                return null;
            }
        }

        return bytes;
    }

    private static Dictionary<char, byte> Build()
    {
        var map = new Dictionary<char, byte>();
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            map[printable ? (char)b : (char)next++] = (byte)b;
        }

        return map;
    }
}
