namespace Appliance.Llm;

/// <summary>A graph input or output: its name and ONNX element type (<c>TensorProto.DataType</c>; 0 when not a tensor).</summary>
internal readonly record struct OnnxValue(string Name, int ElementType);

/// <summary>
/// The inputs and outputs of an ONNX graph, read straight from the protobuf without loading any weight: the
/// walker seeks over nodes and initializers, so a graph with embedded weights costs a few reads.
/// </summary>
internal sealed record OnnxGraphSignature(IReadOnlyList<OnnxValue> Inputs, IReadOnlyList<OnnxValue> Outputs)
{
    // Field numbers of onnx.proto3.
    private const int ModelGraph = 7;
    private const int GraphInput = 11;
    private const int GraphOutput = 12;
    private const int ValueInfoName = 1;
    private const int ValueInfoType = 2;
    private const int TypeTensor = 1;
    private const int TensorElementType = 1;

    // Value infos are small; a bigger one means the file is not an ONNX model.
    private const int MaxValueInfoBytes = 1 << 20;

    /// <summary>Bytes per element of an ONNX element type, 0 when unknown.</summary>
    public static int ElementSize(int elementType) => elementType switch
    {
        1 or 6 or 12 => 4, // float, int32, uint32
        10 or 16 or 4 or 5 => 2, // float16, bfloat16, uint16, int16
        2 or 3 or 9 => 1, // uint8, int8, bool
        7 or 11 or 13 => 8, // int64, double, uint64
        _ => 0,
    };

    /// <exception cref="InvalidDataException">The file is not a well-formed ONNX model.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static OnnxGraphSignature Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16);
        var inputs = new List<OnnxValue>();
        var outputs = new List<OnnxValue>();
        var foundGraph = false;
        while (stream.Position < stream.Length)
        {
            var (field, wireType) = ReadTag(stream);
            if (field == ModelGraph && wireType == 2)
            {
                var end = checked(stream.Position + ReadLength(stream));
                RequireWithin(stream, end);
                foundGraph = true;
                while (stream.Position < end)
                {
                    var (graphField, graphWire) = ReadTag(stream);
                    if ((graphField == GraphInput || graphField == GraphOutput) && graphWire == 2)
                    {
                        var length = ReadLength(stream);
                        if (length > MaxValueInfoBytes)
                        {
                            throw new InvalidDataException($"{path}: a graph input or output of {length} bytes");
                        }

                        var buffer = new byte[length];
                        stream.ReadExactly(buffer);
                        (graphField == GraphInput ? inputs : outputs).Add(ReadValueInfo(buffer));
                    }
                    else
                    {
                        Skip(stream, graphWire);
                    }
                }
            }
            else
            {
                Skip(stream, wireType);
            }
        }

        return foundGraph ? new OnnxGraphSignature(inputs, outputs) : throw new InvalidDataException($"{path} holds no graph");
    }

    private static OnnxValue ReadValueInfo(ReadOnlySpan<byte> data)
    {
        var name = "";
        var elementType = 0;
        var position = 0;
        while (position < data.Length)
        {
            var (field, wire) = ReadTag(data, ref position);
            if (field == ValueInfoName && wire == 2)
            {
                name = System.Text.Encoding.UTF8.GetString(ReadBytes(data, ref position));
            }
            else if (field == ValueInfoType && wire == 2)
            {
                elementType = ReadTensorElementType(ReadBytes(data, ref position));
            }
            else
            {
                SkipIn(data, ref position, wire);
            }
        }

        return new OnnxValue(name, elementType);
    }

    private static int ReadTensorElementType(ReadOnlySpan<byte> typeProto)
    {
        var position = 0;
        while (position < typeProto.Length)
        {
            var (field, wire) = ReadTag(typeProto, ref position);
            if (field == TypeTensor && wire == 2)
            {
                var tensor = ReadBytes(typeProto, ref position);
                var inner = 0;
                while (inner < tensor.Length)
                {
                    var (tensorField, tensorWire) = ReadTag(tensor, ref inner);
                    if (tensorField == TensorElementType && tensorWire == 0)
                    {
                        return checked((int)ReadVarint(tensor, ref inner));
                    }

                    SkipIn(tensor, ref inner, tensorWire);
                }

                return 0;
            }

            SkipIn(typeProto, ref position, wire);
        }

        return 0;
    }

    private static (int Field, int WireType) ReadTag(Stream stream)
    {
        var tag = ReadVarint(stream);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static (int Field, int WireType) ReadTag(ReadOnlySpan<byte> data, ref int position)
    {
        var tag = ReadVarint(data, ref position);
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    private static int ReadLength(Stream stream)
    {
        var length = ReadVarint(stream);
        return length <= int.MaxValue ? (int)length : throw new InvalidDataException("a length-delimited field over 2 GiB");
    }

    private static ulong ReadVarint(Stream stream)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = stream.ReadByte();
            if (b < 0)
            {
                throw new InvalidDataException("the file ends inside a field");
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("a varint longer than 10 bytes");
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> data, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= data.Length)
            {
                throw new InvalidDataException("a value info ends inside a field");
            }

            var b = data[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new InvalidDataException("a varint longer than 10 bytes");
    }

    private static ReadOnlySpan<byte> ReadBytes(ReadOnlySpan<byte> data, ref int position)
    {
        var length = ReadVarint(data, ref position);
        if (length > (ulong)(data.Length - position))
        {
            throw new InvalidDataException("a field runs past its message");
        }

        var bytes = data.Slice(position, (int)length);
        position += (int)length;
        return bytes;
    }

    private static void Skip(Stream stream, int wireType)
    {
        if (wireType == 0)
        {
            ReadVarint(stream);
            return;
        }

        long count = wireType switch
        {
            1 => 8,
            2 => ReadLength(stream),
            5 => 4,
            _ => throw new InvalidDataException($"unsupported protobuf wire type {wireType}"),
        };
        RequireWithin(stream, stream.Position + count);
        stream.Seek(count, SeekOrigin.Current);
    }

    private static void SkipIn(ReadOnlySpan<byte> data, ref int position, int wireType)
    {
        switch (wireType)
        {
            case 0:
                ReadVarint(data, ref position);
                break;
            case 1:
                position += 8;
                break;
            case 2:
                ReadBytes(data, ref position);
                break;
            case 5:
                position += 4;
                break;
            default:
                throw new InvalidDataException($"unsupported protobuf wire type {wireType}");
        }

        if (position > data.Length)
        {
            throw new InvalidDataException("a field runs past its message");
        }
    }

    private static void RequireWithin(Stream stream, long end)
    {
        if (end > stream.Length)
        {
            throw new InvalidDataException($"a field runs {end - stream.Length} bytes past the end of the file (truncated?)");
        }
    }
}
