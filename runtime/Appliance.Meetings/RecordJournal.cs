using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;

namespace Appliance.Meetings;

/// <summary>
/// An append-only file of checksummed records. Layout: an 8-byte magic, then records of
/// [int32 LE body length][body][uint32 LE CRC-32 of the length and the body]. Records are written with
/// <see cref="Write"/> and made durable together by <see cref="Commit"/> (one fsync for many records: group commit);
/// <see cref="Append"/> does both. Writes are unbuffered: a record is in the file (not yet durable) once
/// <see cref="Write"/> returns. Not thread-safe: the owning session serialises calls.
/// </summary>
internal sealed class RecordJournal : IDisposable
{
    public const int HeaderBytes = 8;
    public const int FrameOverhead = 8;
    private readonly FileStream _stream;
    private long _writtenLength;
    private bool _tailUnknown;

    private RecordJournal(FileStream stream)
    {
        _stream = stream;
        CommittedLength = stream.Position;
        _writtenLength = stream.Position;
    }

    /// <summary>The file length up to which every record is flushed to the disk.</summary>
    public long CommittedLength { get; private set; }

    /// <summary>
    /// Opens (or creates) a journal for appending. Existing records are read first and given to
    /// <paramref name="onRecord"/> (which returns false for a body it cannot read); the file is cut at the first torn
    /// or corrupt record.
    /// </summary>
    public static RecordJournal Open(string path, ReadOnlySpan<byte> magic, int maxBodyBytes, Func<ReadOnlyMemory<byte>, bool> onRecord, out JournalRecovery recovery)
    {
        var stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0);
        try
        {
            var length = stream.Length;
            long validEnd;
            long kept = 0;
            JournalDamage damage;
            if (length == 0)
            {
                validEnd = 0;
                damage = JournalDamage.None;
            }
            else
            {
                using var reader = new JournalReader(path, magic.ToArray(), maxBodyBytes);
                while (reader.TryRead(out var body))
                {
                    if (!onRecord(body))
                    {
                        reader.MarkCorrupt();
                        break;
                    }

                    kept++;
                }

                validEnd = reader.ValidEnd;
                damage = reader.Damage;
            }

            if (validEnd < HeaderBytes)
            {
                stream.SetLength(0);
                stream.Write(magic);
                validEnd = HeaderBytes;
                stream.Flush(flushToDisk: true);
            }
            else if (validEnd < length)
            {
                stream.SetLength(validEnd);
                stream.Flush(flushToDisk: true);
            }

            stream.Position = validEnd;
            recovery = new JournalRecovery(kept, Math.Max(0, length - validEnd), length == 0 ? JournalDamage.None : damage);
            return new RecordJournal(stream);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the complete records of a journal lazily without changing it, stopping at the first bad one (or at a
    /// record still being appended). A missing file reads as empty. The file is opened on the first MoveNext and
    /// closed when the enumeration ends or is disposed.
    /// </summary>
    public static IEnumerable<ReadOnlyMemory<byte>> ReadAll(string path, byte[] magic, int maxBodyBytes)
    {
        using var reader = TryOpenReader(path, magic, maxBodyBytes);
        while (reader is not null && reader.TryRead(out var body))
        {
            yield return body;
        }
    }

    private static JournalReader? TryOpenReader(string path, byte[] magic, int maxBodyBytes)
    {
        try
        {
            return new JournalReader(path, magic, maxBodyBytes);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Appends one record and flushes it to the disk: <see cref="Write"/> then <see cref="Commit"/>.</summary>
    public void Append(ReadOnlySpan<byte> body)
    {
        Write(body);
        Commit();
    }

    /// <summary>
    /// Writes one record after the others, not yet flushed. On failure (a full disk, typically) the part of this record
    /// that reached the file is cut away and the exception (an <see cref="IOException"/>) propagates; the records
    /// written before it stay, for <see cref="Commit"/> to make durable, so a disk that fills in the middle of a batch
    /// keeps every record that fitted. Should the cut itself fail, <see cref="Commit"/> still makes those records durable
    /// (the next <see cref="Open"/> cuts what follows them), and each later write first tries the cut again and throws
    /// <see cref="IOException"/> while it still fails: nothing is ever appended after a partial record.
    /// </summary>
    public void Write(ReadOnlySpan<byte> body)
    {
        if (_tailUnknown && !CutBack(_writtenLength))
        {
            throw new IOException("the journal could not cut a failed write away; it takes no more records until the cut succeeds or it is opened again");
        }

        var size = body.Length + FrameOverhead;
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var span = buffer.AsSpan(0, size);
            BinaryPrimitives.WriteInt32LittleEndian(span, body.Length);
            body.CopyTo(span[4..]);
            BinaryPrimitives.WriteUInt32LittleEndian(span[(4 + body.Length)..], Crc32.HashToUInt32(span[..(4 + body.Length)]));
            _stream.Write(span);
            _writtenLength += size;
        }
        catch (IOException)
        {
            CutBack(_writtenLength);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Flushes the records written since the last commit to the disk (fsync). On failure they are cut away, and the
    /// exception (an <see cref="IOException"/>) propagates: none of them counts as written. (Should that cut fail too,
    /// they stay whole in the file, and a reopen reads them back.)
    /// </summary>
    public void Commit()
    {
        if (_writtenLength == CommittedLength)
        {
            return;
        }

        try
        {
            _stream.Flush(flushToDisk: true);
            CommittedLength = _writtenLength;
        }
        catch (IOException)
        {
            CutBack(CommittedLength);
            throw;
        }
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// Makes <paramref name="length"/> the end of the journal's records and cuts the file there. Returns false when the
    /// cut fails (the disk is failing): the bytes past that end stay until a later cut or the next open's scan removes
    /// them, and no record is appended meanwhile.
    /// </summary>
    private bool CutBack(long length)
    {
        _writtenLength = length;
        try
        {
            _stream.SetLength(length);
            _stream.Position = length;
            _tailUnknown = false;
        }
        catch (IOException)
        {
            _tailUnknown = true;
        }

        return !_tailUnknown;
    }

    /// <summary>Sequential reader that tracks where the last complete record ends.</summary>
    private sealed class JournalReader : IDisposable
    {
        private readonly FileStream _stream;
        private readonly int _maxBodyBytes;
        private readonly long _length;
        private bool _stopped;
        private long _lastStart;

        public JournalReader(string path, byte[] magic, int maxBodyBytes)
        {
            _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 64 * 1024);
            _maxBodyBytes = maxBodyBytes;
            _length = _stream.Length;
            Span<byte> header = stackalloc byte[HeaderBytes];
            if (_stream.ReadAtLeast(header, HeaderBytes, throwOnEndOfStream: false) < HeaderBytes || !header.SequenceEqual(magic))
            {
                Damage = JournalDamage.BadHeader;
                _stopped = true;
                return;
            }

            ValidEnd = HeaderBytes;
        }

        public long ValidEnd { get; private set; }

        public JournalDamage Damage { get; private set; }

        public bool TryRead(out ReadOnlyMemory<byte> body)
        {
            body = default;
            if (_stopped)
            {
                return false;
            }

            if (ValidEnd == _length)
            {
                _stopped = true;
                return false;
            }

            Span<byte> prefix = stackalloc byte[4];
            if (_stream.ReadAtLeast(prefix, 4, throwOnEndOfStream: false) < 4)
            {
                return Stop(JournalDamage.TornTail);
            }

            var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(prefix);
            if (bodyLength < 0 || bodyLength > _maxBodyBytes)
            {
                return Stop(ValidEnd + FrameOverhead + Math.Max(bodyLength, 0) > _length ? JournalDamage.TornTail : JournalDamage.Corrupt);
            }

            var record = new byte[4 + bodyLength + 4];
            prefix.CopyTo(record);
            if (_stream.ReadAtLeast(record.AsSpan(4), record.Length - 4, throwOnEndOfStream: false) < record.Length - 4)
            {
                return Stop(JournalDamage.TornTail);
            }

            var stored = BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(4 + bodyLength));
            if (stored != Crc32.HashToUInt32(record.AsSpan(0, 4 + bodyLength)))
            {
                return Stop(JournalDamage.Corrupt);
            }

            _lastStart = ValidEnd;
            ValidEnd += record.Length;
            body = record.AsMemory(4, bodyLength);
            return true;
        }

        public void MarkCorrupt()
        {
            // The last record returned could not be decoded: it does not count as valid.
            _stopped = true;
            Damage = JournalDamage.Corrupt;
            ValidEnd = _lastStart;
        }

        public void Dispose() => _stream.Dispose();

        private bool Stop(JournalDamage damage)
        {
            _stopped = true;
            Damage = damage;
            return false;
        }
    }
}
