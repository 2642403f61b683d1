using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Appliance.ModelForge.Llm;

/// <summary>
/// A random weight matrix held as 4-bit codes with one fp16 scale per block of <see cref="BlockSize"/> input features:
/// weight[n, k] = (code[n, k] - 8) * scale[n, k / BlockSize]. At the default block of 32 the same codes serve as ONNX
/// Runtime's <c>MatMulNBits</c> blob (symmetric, implicit zero point 8) and as llama.cpp's <c>Q4_0</c> blocks, so the
/// ONNX model and the GGUF model forged from one seed compute the same function; <see cref="Reblocked"/> gives the
/// same weights in larger blocks, for <c>MatMulNBits</c> only.
/// </summary>
/// <remarks>Rows are output features (N), columns input features (K), as in a PyTorch Linear weight.</remarks>
internal sealed class QuantizedMatrix
{
    /// <summary>Input features per block of the generated matrices: <c>Q4_0</c>'s block.</summary>
    public const int DefaultBlockSize = LlmForgeOptions.DefaultMatMulBlockSize;
    private const double CodeStandardDeviation = 4.3205; // of integers uniform in [-7, 7]

    private readonly byte[] _packed; // MatMulNBits order: byte j of a block = code[2j] | code[2j+1] << 4
    private readonly Half[] _scales;

    private QuantizedMatrix(int rows, int columns, int blockSize, byte[] packed, Half[] scales)
    {
        Rows = rows;
        Columns = columns;
        BlockSize = blockSize;
        _packed = packed;
        _scales = scales;
    }

    public int Rows { get; }

    public int Columns { get; }

    /// <summary>Input features that share one scale: 32 (<see cref="DefaultBlockSize"/>), or what <see cref="Reblocked"/> was given.</summary>
    public int BlockSize { get; }

    private int BlobSize => BlockSize / 2;

    public int BlocksPerRow => Columns / BlockSize;

    /// <summary>Bytes of the <c>MatMulNBits</c> weight input, shape [N, K/BlockSize, BlockSize/2].</summary>
    public long PackedByteCount => _packed.LongLength;

    /// <summary>
    /// Draws codes uniformly from 1..15 (values -7..7, mean zero) and block scales around
    /// <paramref name="standardDeviation"/> / 4.32, so the dequantized weights have roughly that spread.
    /// </summary>
    public static QuantizedMatrix Generate(int rows, int columns, double standardDeviation, DeterministicRandom random)
    {
        if (columns % DefaultBlockSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"The input feature count must be a multiple of {DefaultBlockSize}.");
        }

        var blocks = (long)rows * (columns / DefaultBlockSize);
        var scales = new Half[blocks];
        var baseScale = standardDeviation / CodeStandardDeviation;
        for (long i = 0; i < blocks; i++)
        {
            scales[i] = (Half)(baseScale * (0.75 + (0.5 * random.NextDouble())));
        }

        var packed = new byte[blocks * (DefaultBlockSize / 2)];
        var index = 0L;
        while (index < packed.LongLength)
        {
            // Eight random bytes give four packed bytes (eight codes) per draw.
            var bits = random.NextUInt64();
            for (var j = 0; j < 4 && index < packed.LongLength; j++)
            {
                var low = Code((byte)bits);
                var high = Code((byte)(bits >> 8));
                packed[index++] = (byte)(low | (high << 4));
                bits >>= 16;
            }
        }

        return new QuantizedMatrix(rows, columns, DefaultBlockSize, packed, scales);
    }

    /// <summary>
    /// Quantizes a float matrix [<paramref name="rows"/> × <paramref name="columns"/>], row-major, symmetrically: each
    /// block of <paramref name="blockSize"/> gets the scale max|w| / 7 (as fp16) and codes round(w / scale) + 8, clamped
    /// to 0..15; the dequantized weights are within half a scale of the originals.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The block size is not a power of two from 16 (as <c>MatMulNBits</c> takes), the columns are not a multiple of it, or the sizes do not match the values.</exception>
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> values, int rows, int columns, int blockSize = DefaultBlockSize)
    {
        if (blockSize < 16 || !int.IsPow2(blockSize))
        {
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "The block size must be a power of two, at least 16.");
        }

        if (columns % blockSize != 0 || values.Length != (long)rows * columns)
        {
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"Expected {rows} rows of a multiple of {blockSize} columns in {values.Length} values.");
        }

        var blobSize = blockSize / 2;
        var blocks = (long)rows * (columns / blockSize);
        var scales = new Half[blocks];
        var packed = new byte[blocks * blobSize];
        for (long block = 0; block < blocks; block++)
        {
            var weights = values.Slice((int)(block * blockSize), blockSize);
            var largest = 0f;
            foreach (var w in weights)
            {
                largest = Math.Max(largest, Math.Abs(w));
            }

            scales[block] = (Half)(largest / 7f);
            var scale = (float)scales[block];
            for (var j = 0; j < blobSize; j++)
            {
                packed[(block * blobSize) + j] = (byte)(QuantizedCode(weights[2 * j], scale) | (QuantizedCode(weights[(2 * j) + 1], scale) << 4));
            }
        }

        return new QuantizedMatrix(rows, columns, blockSize, packed, scales);
    }

    /// <summary>
    /// These weights quantized again in blocks of <paramref name="blockSize"/> (<see cref="Quantize"/> of the dequantized
    /// matrix): fewer scales to read for a larger block, and weights within half of the new scale of these.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">As <see cref="Quantize"/>.</exception>
    public QuantizedMatrix Reblocked(int blockSize)
    {
        if (blockSize == BlockSize)
        {
            return this;
        }

        // Row by row: a vocabulary-sized table is never held as floats whole.
        var row = new float[Columns];
        var rows = new QuantizedMatrix[Rows];
        for (var n = 0; n < Rows; n++)
        {
            DequantizeRow(n, row);
            rows[n] = Quantize(row, 1, Columns, blockSize);
        }

        return new QuantizedMatrix(Rows, Columns, blockSize, [.. rows.SelectMany(r => r._packed)], [.. rows.SelectMany(r => r._scales)]);
    }

    /// <summary>Writes the <c>MatMulNBits</c> B input: uint8 [N, K/BlockSize, BlockSize/2].</summary>
    public void WritePacked(Stream destination) => destination.Write(_packed);

    /// <summary>Writes the <c>MatMulNBits</c> scales input: float32 [N, K/BlockSize].</summary>
    public void WriteScalesAsFloat(Stream destination)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            var used = 0;
            foreach (var scale in _scales)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(used), (float)scale);
                used += 4;
                if (used == 64 * 1024)
                {
                    destination.Write(buffer, 0, used);
                    used = 0;
                }
            }

            destination.Write(buffer, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Writes the dequantized matrix as row-major float32 [N, K] (used for the embedding table).</summary>
    public void WriteDequantizedFloat(Stream destination)
    {
        var row = new float[Columns];
        for (var n = 0; n < Rows; n++)
        {
            DequantizeRow(n, row);
            destination.Write(MemoryMarshal.AsBytes(row.AsSpan())); // little-endian, as the forge requires
        }
    }

    private void DequantizeRow(int n, Span<float> row)
    {
        for (var b = 0; b < BlocksPerRow; b++)
        {
            var block = ((long)n * BlocksPerRow) + b;
            var scale = (float)_scales[block];
            var offset = block * BlobSize;
            for (var j = 0; j < BlobSize; j++)
            {
                var packed = _packed[offset + j];
                var k = (b * BlockSize) + (2 * j);
                row[k] = ((packed & 0x0F) - 8) * scale;
                row[k + 1] = ((packed >> 4) - 8) * scale;
            }
        }
    }

    /// <summary>
    /// Writes llama.cpp <c>Q4_0</c> blocks: fp16 scale, then 16 bytes whose low nibbles hold elements 0..15
    /// and high nibbles elements 16..31 of the block.
    /// </summary>
    /// <exception cref="InvalidOperationException">The matrix is not in <c>Q4_0</c>'s blocks of 32.</exception>
    public void WriteGgufQ4_0(Stream destination)
    {
        if (BlockSize != DefaultBlockSize)
        {
            throw new InvalidOperationException($"Q4_0 has blocks of {DefaultBlockSize}; this matrix has blocks of {BlockSize}.");
        }

        const int GgufBlockBytes = 2 + (DefaultBlockSize / 2);
        var blocks = (long)Rows * BlocksPerRow;
        var buffer = new byte[GgufBlockBytes * 1024];
        var used = 0;
        Span<byte> codes = stackalloc byte[BlockSize];
        for (long block = 0; block < blocks; block++)
        {
            var offset = block * BlobSize;
            for (var j = 0; j < BlobSize; j++)
            {
                var packed = _packed[offset + j];
                codes[2 * j] = (byte)(packed & 0x0F);
                codes[(2 * j) + 1] = (byte)(packed >> 4);
            }

            var target = buffer.AsSpan(used, GgufBlockBytes);
            BinaryPrimitives.WriteHalfLittleEndian(target, _scales[block]);
            for (var j = 0; j < BlobSize; j++)
            {
                target[2 + j] = (byte)(codes[j] | (codes[j + BlobSize] << 4));
            }

            used += GgufBlockBytes;
            if (used == buffer.Length)
            {
                destination.Write(buffer, 0, used);
                used = 0;
            }
        }

        destination.Write(buffer, 0, used);
    }

    private static byte Code(byte randomByte) => (byte)(((randomByte * 15) >> 8) + 1);

    private static int QuantizedCode(float weight, float scale) =>
        scale == 0 ? 8 : Math.Clamp((int)MathF.Round(weight / scale), -8, 7) + 8;
}
