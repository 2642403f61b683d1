using System.Text;

namespace Appliance.ModelForge.Gguf;

/// <summary>GGML tensor types the forge writes.</summary>
internal enum GgmlType : uint
{
    F32 = 0,
    Q4_0 = 2,
}

/// <summary>A tensor entry of a GGUF file; <see cref="Dims"/> lists ne[0] (the contiguous axis) first.</summary>
internal sealed record GgufTensorInfo(string Name, long[] Dims, GgmlType Type)
{
    public long ByteSize
    {
        get
        {
            var elements = Dims.Aggregate(1L, (a, b) => a * b);
            return Type switch
            {
                GgmlType.F32 => elements * 4,
                GgmlType.Q4_0 => elements / 32 * 18,
                _ => throw new InvalidOperationException($"Unknown GGML type {Type}."),
            };
        }
    }
}

/// <summary>
/// Writes a GGUF version 3 file: header, metadata key/values, tensor infos, then the tensor data streamed in the
/// declared order, each tensor aligned to <see cref="Alignment"/> bytes.
/// </summary>
internal sealed class GgufWriter : IDisposable
{
    public const uint Alignment = 32;
    private const uint Version = 3;
    private readonly FileStream _stream;
    private readonly BinaryWriter _writer;
    private readonly IReadOnlyList<GgufTensorInfo> _tensors;
    private int _next;

    public GgufWriter(string path, IReadOnlyList<KeyValuePair<string, object>> metadata, IReadOnlyList<GgufTensorInfo> tensors)
    {
        _tensors = tensors;
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        _writer = new BinaryWriter(_stream, Encoding.UTF8, leaveOpen: true);
        _writer.Write("GGUF"u8);
        _writer.Write(Version);
        _writer.Write((ulong)tensors.Count);
        _writer.Write((ulong)metadata.Count);
        foreach (var (key, value) in metadata)
        {
            WriteString(key);
            WriteValue(value);
        }

        var offset = 0L;
        foreach (var tensor in tensors)
        {
            WriteString(tensor.Name);
            _writer.Write((uint)tensor.Dims.Length);
            foreach (var dim in tensor.Dims)
            {
                _writer.Write((ulong)dim);
            }

            _writer.Write((uint)tensor.Type);
            _writer.Write((ulong)offset);
            offset = AlignUp(offset + tensor.ByteSize);
        }

        _writer.Flush();
        Pad();
    }

    /// <summary>Writes the next tensor's data; it must be the next declared tensor and have its declared size.</summary>
    public void WriteTensor(string name, Action<Stream> write)
    {
        if (_next >= _tensors.Count || _tensors[_next].Name != name)
        {
            throw new InvalidOperationException($"GGUF tensor '{name}' written out of the declared order.");
        }

        Pad();
        var start = _stream.Position;
        write(_stream);
        var written = _stream.Position - start;
        if (written != _tensors[_next].ByteSize)
        {
            throw new InvalidOperationException($"GGUF tensor '{name}' has {written} bytes, declared {_tensors[_next].ByteSize}.");
        }

        _next++;
    }

    /// <summary>Checks that every declared tensor was written.</summary>
    public void Complete()
    {
        if (_next != _tensors.Count)
        {
            throw new InvalidOperationException($"GGUF file closed after {_next} of {_tensors.Count} tensors.");
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        _stream.Dispose();
    }

    private static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;

    /// <summary>Pads to the alignment; the data section starts aligned, so file offsets and data offsets agree.</summary>
    private void Pad()
    {
        var position = _stream.Position;
        var padding = AlignUp(position) - position;
        _stream.Write(new byte[padding]);
    }

    private void WriteString(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        _writer.Write((ulong)bytes.Length);
        _writer.Write(bytes);
    }

    private void WriteValue(object value)
    {
        switch (value)
        {
            case uint u:
                _writer.Write(4u);
                _writer.Write(u);
                break;
            case int i:
                _writer.Write(5u);
                _writer.Write(i);
                break;
            case float f:
                _writer.Write(6u);
                _writer.Write(f);
                break;
            case bool b:
                _writer.Write(7u);
                _writer.Write(b);
                break;
            case string s:
                _writer.Write(8u);
                WriteString(s);
                break;
            case string[] strings:
                _writer.Write(9u);
                _writer.Write(8u);
                _writer.Write((ulong)strings.Length);
                foreach (var s in strings)
                {
                    WriteString(s);
                }

                break;
            case int[] ints:
                _writer.Write(9u);
                _writer.Write(5u);
                _writer.Write((ulong)ints.Length);
                foreach (var i in ints)
                {
                    _writer.Write(i);
                }

                break;
            default:
                throw new ArgumentException($"Unsupported GGUF metadata value type {value.GetType()}.", nameof(value));
        }
    }
}
