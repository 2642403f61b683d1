using System.Buffers.Binary;
using System.IO.Hashing;

namespace Appliance.Meetings;

/// <summary>How far a reader of a session's audio journal may go; see <see cref="MeetingSessionManager.OpenReleasedAudio"/>.</summary>
/// <param name="CommittedLength">Journal bytes flushed to the disk; records beyond may still be written.</param>
/// <param name="ReleasedThrough">Every accepted frame up to this sequence number lies inside <paramref name="CommittedLength"/>, and the missing ones up to it are gaps.</param>
/// <param name="Closed">The session takes no more audio (stopping or completed).</param>
internal readonly record struct AudioReadLimit(long CommittedLength, long ReleasedThrough, bool Closed);

/// <summary>What <see cref="ReleasedAudioReader.Next"/> found.</summary>
public enum ReleasedAudioStatus
{
    /// <summary>A frame, the next in sequence order.</summary>
    Frame,

    /// <summary>Nothing released yet: wait until more frames are accepted (or the session stops), then ask again.</summary>
    Waiting,

    /// <summary>The session is stopped and every released frame has been read.</summary>
    Ended,

    /// <summary>The session was deleted or aborted.</summary>
    Gone,
}

/// <summary>
/// Reads a session's accepted frames in sequence order from its audio journal, following the journal while the
/// meeting goes on: a frame is handed out once the session has released it (every earlier number accepted or
/// skipped), so the consumer sees the same order and gaps as the reorder buffer decided, after a restart too. Only
/// frames within the reorder window are held in memory; the rest stays on disk. One consumer at a time; dispose it
/// to close the file.
/// </summary>
public sealed class ReleasedAudioReader : IDisposable
{
    private readonly MeetingSession _session;
    private readonly JournalTail _tail;
    private readonly int _window;
    private readonly SortedDictionary<long, AudioFrame> _held = [];
    private long _next;
    private long _highestRead = -1;

    internal ReleasedAudioReader(MeetingSession session, JournalTail tail, int window)
    {
        _session = session;
        _tail = tail;
        _window = window;
    }

    /// <summary>
    /// The next released frame in sequence order, with the count of sequence numbers skipped as lost just before it.
    /// Throws <see cref="InvalidDataException"/> when a committed record cannot be read back, and
    /// <see cref="IOException"/> when the disk fails.
    /// </summary>
    public ReleasedAudioStatus Next(out AudioFrame frame, out long missingBefore)
    {
        frame = default;
        missingBefore = 0;
        while (true)
        {
            if (_session.ReadLimit() is not { } limit)
            {
                return ReleasedAudioStatus.Gone;
            }

            var allRead = _tail.Position >= limit.CommittedLength;
            if (_held.Count > 0)
            {
                // A frame is due when every earlier accepted one has been read: either the whole committed journal is
                // read, or a frame a window ahead was read (after it, the session refuses anything at or below this one).
                var (sequence, held) = _held.First();
                if ((allRead && sequence <= limit.ReleasedThrough) || _highestRead >= sequence + _window)
                {
                    _held.Remove(sequence);
                    missingBefore = sequence - _next;
                    _next = sequence + 1;
                    frame = held;
                    return ReleasedAudioStatus.Frame;
                }
            }

            if (allRead)
            {
                return limit.Closed && _held.Count == 0 ? ReleasedAudioStatus.Ended : ReleasedAudioStatus.Waiting;
            }

            if (!MeetingSession.TryDecodeAudioRecord(_tail.Read(), out var read))
            {
                throw new InvalidDataException("an audio journal record is not a frame");
            }

            if (read.Sequence >= _next)
            {
                _held[read.Sequence] = read;
                _highestRead = Math.Max(_highestRead, read.Sequence);
            }
        }
    }

    /// <summary>Closes the journal file.</summary>
    public void Dispose() => _tail.Dispose();
}

/// <summary>Reads the committed records of a journal that is still being appended to, one by one from the start.</summary>
internal sealed class JournalTail : IDisposable
{
    private readonly FileStream _stream;
    private readonly int _maxBodyBytes;

    public JournalTail(string path, byte[] magic, int maxBodyBytes)
    {
        // Unbuffered: bytes past the committed length may still be cut back by the writer, so none are kept here.
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        _maxBodyBytes = maxBodyBytes;
        Span<byte> header = stackalloc byte[RecordJournal.HeaderBytes];
        if (_stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header.SequenceEqual(magic))
        {
            _stream.Dispose();
            throw new InvalidDataException($"{path} is not a journal");
        }

        Position = RecordJournal.HeaderBytes;
    }

    /// <summary>Where the next record starts.</summary>
    public long Position { get; private set; }

    /// <summary>Reads the record at <see cref="Position"/>; the caller knows it is committed. Throws <see cref="InvalidDataException"/> for a damaged one.</summary>
    public ReadOnlyMemory<byte> Read()
    {
        Span<byte> prefix = stackalloc byte[4];
        _stream.ReadExactly(prefix);
        var length = BinaryPrimitives.ReadInt32LittleEndian(prefix);
        if (length < 0 || length > _maxBodyBytes)
        {
            throw new InvalidDataException($"a committed journal record at {Position} has the impossible length {length}");
        }

        var record = new byte[4 + length + 4];
        prefix.CopyTo(record);
        _stream.ReadExactly(record.AsSpan(4));
        if (BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(4 + length)) != Crc32.HashToUInt32(record.AsSpan(0, 4 + length)))
        {
            throw new InvalidDataException($"a committed journal record at {Position} fails its checksum");
        }

        Position += record.Length;
        return record.AsMemory(4, length);
    }

    public void Dispose() => _stream.Dispose();
}
