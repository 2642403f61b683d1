using System.Globalization;
using System.Runtime.InteropServices;

namespace Appliance.Llm;

/// <summary>
/// Unicode Normalization Form C (Unicode Standard Annex #15) for text on its way into a tokenizer whose
/// <c>tokenizer.json</c> declares an NFC normalizer, as Qwen's does: "e" followed by U+0301 becomes "é", one token
/// instead of two. GenAI's tokenizer skips that normalizer, and the daemon runs with invariant globalization, where
/// <see cref="string.Normalize()"/> returns its input unchanged; so the composition comes from the system's ICU
/// (<c>libicuuc</c>: <c>unorm2_getNFCInstance</c>, <c>unorm2_normalize</c>), loaded on the first text that needs it.
/// Without ICU the text goes on unchanged (<see cref="IsAvailable"/> says so). Thread-safe.
/// </summary>
internal static unsafe class UnicodeNfc
{
    // U_BUFFER_OVERFLOW_ERROR: the destination was too small; the length it needs is returned.
    private const int BufferOverflow = 15;

    private static readonly Lazy<Icu?> s_icu = new(Icu.TryLoad);

    /// <summary>Whether the system's ICU could be loaded, so that <see cref="Normalize"/> composes.</summary>
    public static bool IsAvailable => s_icu.Value is not null;

    /// <summary>
    /// Whether NFC could change <paramref name="text"/>: false when every character is under U+0300, where none
    /// composes with what follows it and none decomposes (ICU's own NFC quick-check bound).
    /// </summary>
    public static bool MayChange(ReadOnlySpan<char> text) => text.ContainsAnyExceptInRange('\0', '\u02FF');

    /// <summary>
    /// <paramref name="text"/> in NFC; the same instance when it already is (every character under U+0300, where no
    /// character composes with what follows it), when ICU is missing, or when ICU refuses the text (an error code other
    /// than a short buffer), so that text always goes on. Never throws for any string.
    /// </summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!MayChange(text) || s_icu.Value is not { } icu)
        {
            return text;
        }

        var capacity = text.Length + 16;
        while (true)
        {
            var buffer = new char[capacity];
            int error = 0, length;
            fixed (char* source = text)
            fixed (char* destination = buffer)
            {
                length = icu.Normalize(icu.Nfc, source, text.Length, destination, capacity, &error);
            }

            if (error == BufferOverflow && length > capacity)
            {
                capacity = length;
                continue;
            }

            if (error > 0)
            {
                return text;
            }

            return new string(buffer, 0, length);
        }
    }

    private sealed class Icu
    {
        public required nint Nfc { get; init; }

        public required delegate* unmanaged<nint, char*, int, char*, int, int*, int> Normalize { get; init; }

        // Debian and most distributions ship libicuuc.so.<major> with every symbol suffixed _<major>; some builds
        // leave the suffix out. Majors 50 to 99 cover the ICU releases from 2012 on.
        public static Icu? TryLoad()
        {
            for (var major = 99; major >= 50; major--)
            {
                if (!NativeLibrary.TryLoad(string.Create(CultureInfo.InvariantCulture, $"libicuuc.so.{major}"), out var library))
                {
                    continue;
                }

                foreach (var suffix in new[] { string.Create(CultureInfo.InvariantCulture, $"_{major}"), "" })
                {
                    if (NativeLibrary.TryGetExport(library, "unorm2_getNFCInstance" + suffix, out var getNfc)
                        && NativeLibrary.TryGetExport(library, "unorm2_normalize" + suffix, out var normalize))
                    {
                        var error = 0;
                        var nfc = ((delegate* unmanaged<int*, nint>)getNfc)(&error);
                        if (error <= 0 && nfc != 0)
                        {
                            return new Icu { Nfc = nfc, Normalize = (delegate* unmanaged<nint, char*, int, char*, int, int*, int>)normalize };
                        }
                    }
                }

                NativeLibrary.Free(library);
            }

            return null;
        }
    }
}
