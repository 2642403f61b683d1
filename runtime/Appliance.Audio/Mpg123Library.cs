using System.Runtime.InteropServices;

namespace Appliance.Audio;

/// <summary>
/// libmpg123, the MPEG audio decoder of the mpg123 project, from the board: Debian's <c>libmpg123-0</c>
/// (<c>libmpg123.so.0</c>), installed wherever ffmpeg or a media player is. It decodes MPEG-1, 2 and 2.5 Layer I, II
/// and III as ffmpeg does (both follow ISO/IEC 11172-3 and 13818-3 to float precision), including the 8 kHz MPEG-2.5
/// short blocks that NLayer misreads. Found by <see cref="NativeCodecLibraries"/>. Thread-safe;
/// <see cref="IsAvailable"/> is decided once.
/// </summary>
internal static class Mpg123Library
{
    private const string Name = "mpg123";
    private static readonly string[] s_candidates = ["libmpg123.so.0", "libmpg123.so", "libmpg123.0.dylib", "mpg123"];
    private static readonly Lazy<IntPtr> s_handle = new(Load);

    /// <summary>True when a libmpg123 could be loaded.</summary>
    public static bool IsAvailable => s_handle.Value != IntPtr.Zero;

    /// <summary>
    /// Decodes a whole MPEG audio stream (frames, with or without ID3 tags) to interleaved float samples, frame by frame
    /// as the stream holds them: no gapless trimming (the caller trims as ffmpeg does) and no resampling. Damaged
    /// frames are skipped by libmpg123's resynchronisation; a stream it gives up on returns what was decoded before.
    /// </summary>
    /// <param name="stream">The bytes of the stream.</param>
    /// <returns>The samples, their rate and channels, and whether decoding stopped on an error; null when libmpg123 found no frame.</returns>
    /// <exception cref="InvalidOperationException">libmpg123 could not make a decoder (it is not available).</exception>
    public static (float[] Samples, int SampleRate, int Channels, bool Truncated)? Decode(byte[] stream)
    {
        var handle = Native.mpg123_new(null, out var error);
        if (handle == IntPtr.Zero || error != Ok)
        {
            throw new InvalidOperationException($"libmpg123 could not create a decoder ({error}).");
        }

        try
        {
            // Float output, no messages on stderr, and no gapless trimming of its own (the default flags have it).
            if (Native.mpg123_param(handle, ParamFlags, new CLong(FlagForceFloat | FlagQuiet), 0) != Ok
                || Native.mpg123_open_feed(handle) != Ok
                || Native.mpg123_feed(handle, stream, (nuint)stream.Length) != Ok)
            {
                throw new InvalidOperationException("libmpg123 refused its settings or the stream.");
            }

            var samples = new List<float>();
            var buffer = new byte[1152 * 2 * sizeof(float) * 8];
            var (rate, channels, truncated) = (0, 0, false);
            while (true)
            {
                var result = Native.mpg123_read(handle, buffer, (nuint)buffer.Length, out var done);
                if (result == NewFormat)
                {
                    var known = Native.mpg123_getformat(handle, out var formatRate, out var formatChannels, out var encoding) == Ok;
                    if (!known || encoding != EncodingFloat32 || (rate != 0 && ((int)formatRate.Value != rate || formatChannels != channels)))
                    {
                        truncated = rate != 0; // a change of format mid-stream: keep what came before it
                        break;
                    }

                    (rate, channels) = ((int)formatRate.Value, formatChannels);
                }

                if (done > 0)
                {
                    samples.AddRange(MemoryMarshal.Cast<byte, float>(buffer.AsSpan(0, (int)done)));
                }

                if (result is NeedMore or Done)
                {
                    break;
                }

                if (result is not (Ok or NewFormat))
                {
                    truncated = true;
                    break;
                }
            }

            return rate == 0 || channels == 0 ? null : ([.. samples], rate, channels, truncated);
        }
        finally
        {
            Native.mpg123_delete(handle);
        }
    }

    private const int Ok = 0;
    private const int NeedMore = -10;
    private const int NewFormat = -11;
    private const int Done = -12;

    /// <summary><c>MPG123_FLAGS</c> (mpg123.h <c>enum mpg123_parms</c>): replaces the decoder's flags.</summary>
    private const int ParamFlags = 1;
    private const int FlagQuiet = 0x20;
    private const int FlagForceFloat = 0x400;

    /// <summary><c>MPG123_ENC_FLOAT_32</c> (fmt123.h).</summary>
    private const int EncodingFloat32 = 0x200;

    private static IntPtr Load()
    {
        var handle = NativeCodecLibraries.Load(Name, s_candidates);
        if (handle != IntPtr.Zero)
        {
            _ = Native.mpg123_init(); // required before libmpg123 1.27, a no-op since
        }

        return handle;
    }

    /// <summary>The libmpg123 entry points used (mpg123.h, stable since API version 25).</summary>
    private static class Native
    {
#pragma warning disable SYSLIB1054 // Arrays are pinned by the classic marshaller; the generated one needs unsafe code this project does not allow.
        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_init();

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr mpg123_new(string? decoder, out int error);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern void mpg123_delete(IntPtr handle);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_param(IntPtr handle, int type, CLong value, double floatValue);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_open_feed(IntPtr handle);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_feed(IntPtr handle, byte[] input, nuint size);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_read(IntPtr handle, byte[] output, nuint size, out nuint done);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int mpg123_getformat(IntPtr handle, out CLong rate, out int channels, out int encoding);
#pragma warning restore SYSLIB1054
    }
}
