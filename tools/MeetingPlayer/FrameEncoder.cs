using System.Buffers.Binary;
using Concentus;
using Concentus.Enums;

namespace Appliance.MeetingPlayer;

/// <summary>
/// Cuts frames into wire payloads: one Opus packet per frame (Concentus, VoIP mode, as earbuds encode speech) or
/// s16le PCM. Opus keeps state across frames, so frames must be given in sequence order. Not thread-safe.
/// </summary>
public sealed class FrameEncoder : IDisposable
{
    /// <summary>The largest Opus packet (RFC 6716 §3.4).</summary>
    private const int MaxOpusPacketBytes = 1275;

    private readonly IOpusEncoder? _opus;
    private readonly byte[] _packet = new byte[MaxOpusPacketBytes];

    public FrameEncoder(MeetingCodec codec, int sampleRate, int frameMs)
    {
        Codec = codec;
        SamplesPerFrame = checked(sampleRate * frameMs / 1000);
        if (codec == MeetingCodec.Opus)
        {
            _opus = OpusCodecFactory.CreateEncoder(sampleRate, 1, OpusApplication.OPUS_APPLICATION_VOIP);
        }
    }

    public MeetingCodec Codec { get; }

    public int SamplesPerFrame { get; }

    /// <summary>Encodes exactly <see cref="SamplesPerFrame"/> samples in [-1, 1] into a new array.</summary>
    /// <exception cref="InvalidOperationException">Opus refused the frame (a bug: the framing is validated up front).</exception>
    public byte[] Encode(ReadOnlySpan<float> frame)
    {
        if (frame.Length != SamplesPerFrame)
        {
            throw new ArgumentException($"A frame holds {SamplesPerFrame} samples, not {frame.Length}.", nameof(frame));
        }

        if (_opus is not null)
        {
            var length = _opus.Encode(frame, SamplesPerFrame, _packet, _packet.Length);
            if (length <= 0)
            {
                throw new InvalidOperationException($"Opus refused a frame of {SamplesPerFrame} samples (code {length}).");
            }

            return _packet.AsSpan(0, length).ToArray();
        }

        var pcm = new byte[frame.Length * 2];
        for (var i = 0; i < frame.Length; i++)
        {
            var value = Math.Clamp(frame[i], -1f, 1f) * short.MaxValue;
            BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(i * 2), (short)MathF.Round(value));
        }

        return pcm;
    }

    public void Dispose() => (_opus as IDisposable)?.Dispose();
}
