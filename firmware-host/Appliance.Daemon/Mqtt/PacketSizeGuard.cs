using System.Buffers;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;

namespace Appliance.Daemon.Mqtt;

/// <summary>
/// The embedded broker's read side of one connection, measuring every MQTT packet from its fixed header (MQTT 5.0
/// §2.1.1, §1.5.5: a type byte, then the remaining length as a variable byte integer) before the broker sees its body.
/// A packet larger than <see cref="MaximumPacketSize"/> bytes, header included, ends the stream at its last length
/// byte: the broker reads end-of-stream instead of allocating the body, so a client announcing 200 MB costs a few
/// bytes of memory. <see cref="RefusedPacket"/> then says what was refused.
/// </summary>
/// <remarks>
/// Each read is capped so that it never crosses from one packet into the next (two bytes for a type byte and the
/// first length byte, one byte for each further length byte, the rest of the body); the broker reads in exactly that
/// pattern, so the cap costs no extra reads. One reader at a time, as the broker's connection loop reads; writes
/// pass through untouched. Owns <paramref name="inner"/>.
/// </remarks>
internal sealed class PacketSizeGuard(IMqttChannel inner, int maximumPacketSize) : IMqttChannel
{
    private const int MaxLengthBytes = 4;

    private Phase _phase = Phase.TypeByte;
    private byte _packetType;
    private int _lengthBytes;
    private long _remainingLength;
    private long _multiplier;
    private long _bodyLeft;

    private enum Phase
    {
        TypeByte,
        Length,
        Body,
        Refused,
    }

    /// <summary>The largest packet read whole, in bytes, fixed header included; <see cref="int.MaxValue"/> once lifted.</summary>
    public int MaximumPacketSize { get; private set; } = maximumPacketSize;

    /// <summary>Takes the limit off this connection (the daemon's own client); called before its next packet is read.</summary>
    public void Lift() => MaximumPacketSize = int.MaxValue;

    /// <summary>The packet that ended the stream: its MQTT control packet type (3 = PUBLISH) and its full size in bytes; null while none was refused.</summary>
    public (int PacketType, long Bytes)? RefusedPacket { get; private set; }

    public X509Certificate2 ClientCertificate => inner.ClientCertificate;

    public EndPoint RemoteEndPoint => inner.RemoteEndPoint;

    public EndPoint LocalEndPoint => inner.LocalEndPoint;

    public bool IsSecureConnection => inner.IsSecureConnection;

    public Task ConnectAsync(CancellationToken cancellationToken) => inner.ConnectAsync(cancellationToken);

    public Task DisconnectAsync(CancellationToken cancellationToken) => inner.DisconnectAsync(cancellationToken);

    public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken) =>
        inner.WriteAsync(buffer, isEndOfPacket, cancellationToken);

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        var cap = _phase switch
        {
            Phase.TypeByte => 2,
            Phase.Length => 1,
            Phase.Body => (int)Math.Min(_bodyLeft, int.MaxValue),
            _ => 0,
        };
        if (cap == 0)
        {
            return 0;
        }

        var read = await inner.ReadAsync(buffer, offset, Math.Min(count, cap), cancellationToken).ConfigureAwait(false);
        var i = 0;
        while (i < read)
        {
            if (_phase == Phase.Body)
            {
                var body = (int)Math.Min(_bodyLeft, read - i);
                _bodyLeft -= body;
                i += body;
                _phase = _bodyLeft == 0 ? Phase.TypeByte : Phase.Body;
            }
            else if (TakeHeaderByte(buffer[offset + i]))
            {
                i++;
            }
            else
            {
                return 0;
            }
        }

        return read;
    }

    public void Dispose() => inner.Dispose();

    /// <summary>Takes one fixed-header byte; false when it completes the header of a packet too large to read.</summary>
    private bool TakeHeaderByte(byte value)
    {
        if (_phase == Phase.TypeByte)
        {
            _packetType = (byte)(value >> 4);
            _phase = Phase.Length;
            _lengthBytes = 0;
            _remainingLength = 0;
            _multiplier = 1;
            return true;
        }

        _remainingLength += (value & 0x7F) * _multiplier;
        _multiplier *= 128;
        _lengthBytes++;
        if ((value & 0x80) != 0 && _lengthBytes < MaxLengthBytes)
        {
            return true;
        }

        // A continuation bit on the fourth length byte is malformed; the broker's own reader refuses it.
        var size = 1 + _lengthBytes + _remainingLength;
        if (size > MaximumPacketSize)
        {
            _phase = Phase.Refused;
            RefusedPacket = (_packetType, size);
            return false;
        }

        _bodyLeft = _remainingLength;
        _phase = _bodyLeft == 0 ? Phase.TypeByte : Phase.Body;
        return true;
    }
}
