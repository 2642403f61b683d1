using System.Buffers;
using System.Buffers.Binary;

namespace Appliance.Audio;

/// <summary>
/// Pulls the packets of the first logical stream out of an Ogg file (RFC 3533 framing): pages found by their capture
/// pattern, checked by CRC, packets joined across pages by lacing. A page whose CRC fails, and a packet that a lost
/// page cut in two, are skipped and counted. A chained file (recordings appended one after another, RFC 3533
/// section 4) is read link by link: a beginning-of-stream page after data pages starts the next link, whether its
/// serial number is new or the same. Streams multiplexed beside the first (their beginning pages come before any
/// data) are ignored. Reads the stream forward only; does not dispose it.
/// </summary>
internal sealed class OggPacketReader
{
    private const int HeaderSize = 27;

    private readonly Stream _stream;
    private readonly byte[] _header = new byte[HeaderSize + 255];
    private readonly Queue<byte[]> _ready = new();
    private readonly ArrayBufferWriter<byte> _partial = new();
    private readonly Queue<int> _readyLinks = new();
    private readonly List<long> _linkGranules = [];
    private uint? _serial;
    private uint? _expectedSequence;
    private bool _inPacket;
    private bool _linkHasData;

    public OggPacketReader(Stream stream) => _stream = stream;

    /// <summary>Pages skipped for a bad CRC or a broken header, and packets dropped because a page was lost.</summary>
    public int Skipped { get; private set; }

    /// <summary>
    /// For each link read so far (index 0 is the first), the granule position of its last page that had one, or -1
    /// when none had. A link's value is final once a packet of the next link has been returned.
    /// </summary>
    public IReadOnlyList<long> LinkGranules => _linkGranules;

    /// <summary>Returns the next complete packet and the link it belongs to, or false at the end of the stream.</summary>
    public bool TryReadPacket(out byte[] packet, out int link)
    {
        while (_ready.Count == 0)
        {
            if (!ReadPage())
            {
                packet = [];
                link = _linkGranules.Count - 1;
                return false;
            }
        }

        packet = _ready.Dequeue();
        link = _readyLinks.Dequeue();
        return true;
    }

    private bool ReadPage()
    {
        while (true)
        {
            if (!SyncToCapture())
            {
                return false;
            }

            // "OggS" is already consumed and stored at _header[0..4].
            if (!ReadExactly(_header.AsSpan(4, HeaderSize - 4)))
            {
                Skipped++;
                return false;
            }

            var segments = _header[26];
            if (!ReadExactly(_header.AsSpan(HeaderSize, segments)))
            {
                Skipped++;
                return false;
            }

            var lacing = _header.AsSpan(HeaderSize, segments);
            var bodyLength = 0;
            foreach (var value in lacing)
            {
                bodyLength += value;
            }

            var body = new byte[bodyLength];
            var version = _header[4];
            var complete = ReadExactly(body);
            if (!complete || version != 0 || !CrcMatches(body, segments))
            {
                Skipped++;
                if (!complete)
                {
                    return false;
                }

                continue;
            }

            var serial = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(14, 4));
            var sequence = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(18, 4));
            // A link begins with a beginning-of-stream page; page 0 of our serial after data pages is one too whose
            // flag page was lost.
            var beginsStream = (_header[5] & 2) != 0 || (serial == _serial && sequence == 0);
            if (_serial is null || (beginsStream && _linkHasData))
            {
                StartLink(serial);
            }
            else if (serial != _serial)
            {
                continue; // another logical stream multiplexed with ours (e.g. a video track)
            }

            var granule = BinaryPrimitives.ReadInt64LittleEndian(_header.AsSpan(6, 8));
            var continued = (_header[5] & 1) != 0;
            var pageLost = _expectedSequence.HasValue && sequence != _expectedSequence;
            _linkHasData |= !beginsStream;
            _expectedSequence = sequence + 1;
            if (_inPacket && (pageLost || !continued))
            {
                // The packet in progress never got its end: drop it.
                Skipped++;
                _partial.Clear();
                _inPacket = false;
            }

            SplitPackets(lacing, body, discardLeading: continued && !_inPacket);
            if (granule != -1)
            {
                _linkGranules[^1] = granule;
            }

            return true;
        }
    }

    /// <summary>Begins the next link of a chain (or the first link): a new serial number, page numbering and granules.</summary>
    private void StartLink(uint serial)
    {
        if (_inPacket)
        {
            Skipped++; // the previous link ended inside a packet
            _partial.Clear();
            _inPacket = false;
        }

        _serial = serial;
        _expectedSequence = null;
        _linkHasData = false;
        _linkGranules.Add(-1);
    }

    /// <summary>
    /// Cuts the page body into packets by its lacing values (a value under 255 ends a packet; 255 at the end of the
    /// page continues it on the next page). <paramref name="discardLeading"/>: the first packet's start was lost.
    /// </summary>
    private void SplitPackets(ReadOnlySpan<byte> lacing, byte[] body, bool discardLeading)
    {
        var offset = 0;
        if (discardLeading)
        {
            Skipped++;
        }

        foreach (var value in lacing)
        {
            if (!discardLeading)
            {
                _partial.Write(body.AsSpan(offset, value));
            }

            offset += value;
            if (value < 255)
            {
                if (!discardLeading)
                {
                    _ready.Enqueue(_partial.WrittenSpan.ToArray());
                    _readyLinks.Enqueue(_linkGranules.Count - 1);
                }

                _partial.Clear();
                discardLeading = false;
            }
        }

        _inPacket = lacing.Length > 0 && lacing[^1] == 255 && !discardLeading;
    }

    /// <summary>Advances to just after the next "OggS"; false at the end of the stream.</summary>
    private bool SyncToCapture()
    {
        var matched = 0;
        while (matched < 4)
        {
            var value = _stream.ReadByte();
            if (value < 0)
            {
                return false;
            }

            matched = value == "OggS"[matched] ? matched + 1 : value == 'O' ? 1 : 0;
        }

        "OggS"u8.CopyTo(_header);
        return true;
    }

    private bool ReadExactly(Span<byte> buffer)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = _stream.Read(buffer[total..]);
            if (read == 0)
            {
                return false;
            }

            total += read;
        }

        return true;
    }

    private bool CrcMatches(ReadOnlySpan<byte> body, int segments)
    {
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(_header.AsSpan(22, 4));
        var header = _header.AsSpan(0, HeaderSize + segments);
        var crc = OggCrc.Update(0, header[..22]);
        crc = OggCrc.Update(crc, [0, 0, 0, 0]); // the CRC field counts as zero
        crc = OggCrc.Update(crc, header[26..]);
        return OggCrc.Update(crc, body) == stored;
    }
}
