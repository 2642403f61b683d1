using System.Runtime.InteropServices;

namespace Appliance.Audio;

/// <summary>
/// libopus, the Opus reference decoder (RFC 6716), from the board: Debian's <c>libopus0</c> (<c>libopus.so.0</c>),
/// installed wherever anything plays or records Opus, found by <see cref="NativeCodecLibraries"/>. Thread-safe;
/// <see cref="IsAvailable"/> is decided once.
/// </summary>
internal static class OpusLibrary
{
    private const string Name = "opus";
    private static readonly string[] s_candidates = ["libopus.so.0", "libopus.so", "libopus.0.dylib", "opus"];
    private static readonly Lazy<IntPtr> s_handle = new(Load);

    /// <summary>True when a libopus could be loaded.</summary>
    public static bool IsAvailable => s_handle.Value != IntPtr.Zero;

    /// <summary>The library's version string (<c>libopus 1.3.1</c>), or null without one.</summary>
    public static string? Version => IsAvailable ? Marshal.PtrToStringAnsi(Native.opus_get_version_string()) : null;

    private static IntPtr Load() => NativeCodecLibraries.Load(Name, s_candidates);

    /// <summary>One libopus decoder state (<c>OpusDecoder*</c>); the owner disposes it. Not thread-safe.</summary>
    internal sealed class Decoder : IDisposable
    {
        /// <summary><c>OPUS_SET_GAIN_REQUEST</c> (opus_defines.h): output gain in Q8 dB.</summary>
        private const int SetGainRequest = 4034;

        private readonly IntPtr _state;
        private byte[] _packet = new byte[1500];
        private float[] _pcm;

        /// <summary>A decoder at <paramref name="sampleRate"/> (8, 12, 16, 24 or 48 kHz) with 1 or 2 channels.</summary>
        /// <exception cref="InvalidOperationException">libopus refused the state (it is not available, or the arguments are wrong).</exception>
        public Decoder(int sampleRate, int channels, int maxSamplesPerChannel)
        {
            _state = Native.opus_decoder_create(sampleRate, channels, out var error);
            if (_state == IntPtr.Zero || error != 0)
            {
                throw new InvalidOperationException($"libopus could not create a decoder ({error}).");
            }

            _pcm = new float[maxSamplesPerChannel * channels];
        }

        /// <summary>Sets the output gain, in Q7.8 dB (RFC 7845's OpusHead field; libopus takes -32768 to 32767).</summary>
        /// <exception cref="ArgumentOutOfRangeException">libopus refused the value.</exception>
        public void SetGain(int gain)
        {
            if (Native.opus_decoder_ctl(_state, SetGainRequest, gain) != 0)
            {
                throw new ArgumentOutOfRangeException(nameof(gain), gain, "libopus refused the output gain.");
            }
        }

        /// <summary>
        /// Decodes a packet (or, when empty, conceals a lost one of <paramref name="samplesPerChannel"/>) into
        /// <paramref name="destination"/>; returns samples per channel, or a negative libopus error. With
        /// <paramref name="fec"/>, decodes instead the packet before <paramref name="packet"/>, which was lost, from the
        /// in-band forward error correction data <paramref name="packet"/> carries (concealing it when it carries none).
        /// </summary>
        public int Decode(ReadOnlySpan<byte> packet, Span<float> destination, int samplesPerChannel, int channels, bool fec = false)
        {
            if (packet.Length > _packet.Length)
            {
                _packet = new byte[packet.Length];
            }

            packet.CopyTo(_packet);
            var decoded = Native.opus_decode_float(_state, packet.IsEmpty ? null : _packet, packet.Length, _pcm, samplesPerChannel, fec ? 1 : 0);
            if (decoded > 0)
            {
                _pcm.AsSpan(0, decoded * channels).CopyTo(destination);
            }

            return decoded;
        }

        public void Dispose() => Native.opus_decoder_destroy(_state);
    }

    /// <summary>The libopus entry points used (opus.h, the stable API since 1.0).</summary>
    private static class Native
    {
#pragma warning disable SYSLIB1054 // Arrays are pinned by the classic marshaller; the generated one needs unsafe code this project does not allow.
        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr opus_decoder_create(int fs, int channels, out int error);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int opus_decode_float(IntPtr st, byte[]? data, int len, float[] pcm, int frameSize, int decodeFec);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern int opus_decoder_ctl(IntPtr st, int request, int value);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern void opus_decoder_destroy(IntPtr st);

        [DllImport(Name, CallingConvention = CallingConvention.Cdecl)]
        public static extern IntPtr opus_get_version_string();
#pragma warning restore SYSLIB1054
    }
}
