using System.Runtime.InteropServices;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Onnx;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Appliance.ModelForge.Whisper;

/// <summary>
/// Writes the layers of a Whisper graph with standard ONNX operators: initializers always go to the main graph
/// (<see cref="Weights"/>), nodes go to <see cref="Nodes"/>, which is the main graph or an <c>If</c> branch being
/// built (a branch reads the main graph's initializers from the outer scope). Weight values are drawn from the
/// seed, one <see cref="DeterministicRandom"/> stream per tensor name, so the order of emission does not matter.
/// </summary>
internal sealed class WhisperGraphEmitter(OnnxGraphBuilder weights, long seed, WhisperPreset preset)
{
    private const double BiasStd = 0.02;

    public OnnxGraphBuilder Weights { get; } = weights;

    public OnnxGraphBuilder Nodes { get; set; } = weights;

    public WhisperPreset Preset { get; } = preset;

    /// <summary>
    /// How <see cref="Linear"/> writes its weight: a float <c>MatMul</c> (<see cref="WhisperQuantization.None"/>),
    /// 4-bit <c>MatMulNBits</c> (<see cref="WhisperQuantization.DecoderQ4"/>) or int8 <c>MatMulInteger</c> with dynamically
    /// quantized activations (<see cref="WhisperQuantization.DynamicInt8"/>), each quantized from the same float weight.
    /// </summary>
    public WhisperQuantization Quantization { get; init; }

    public string Normal(string name, long[] dims, double std) =>
        Floats(name, dims, Draw(name, (int)dims.Aggregate(1L, (a, b) => a * b), 0, std));

    public string Floats(string name, long[] dims, float[] values) =>
        Weights.AddInitializer(name, DataType.Float, dims, s => s.Write(MemoryMarshal.AsBytes(values.AsSpan())));

    /// <summary>
    /// A small int64 tensor as a <c>Constant</c> node of the graph being built: shape operands must be readable at
    /// load time, which external data is not.
    /// </summary>
    public string Int64s(string name, params long[] values)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Int64 };
        tensor.Dims.Add(values.Length);
        tensor.Int64Data.Add(values);
        return Constant(name, tensor);
    }

    /// <summary>A float scalar as a <c>Constant</c> node of the graph being built.</summary>
    public string Scalar(string name, float value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)DataType.Float };
        tensor.FloatData.Add(value);
        return Constant(name, tensor);
    }

    /// <summary>One node with a single output named after it (<c>{name}/output_0</c>).</summary>
    public string Op(string opType, string name, string[] inputs, params (string Name, object Value)[] attributes)
    {
        var output = name + "/output_0";
        Nodes.Node(opType, name, inputs, [output], "", attributes);
        return output;
    }

    /// <summary>A node whose integer-list attributes the builder's scalar attributes cannot express.</summary>
    public string OpWithInts(string opType, string name, string[] inputs, params (string Name, long[] Values)[] attributes)
    {
        var output = name + "/output_0";
        var node = Nodes.Node(opType, name, inputs, [output]);
        foreach (var (attributeName, values) in attributes)
        {
            var attribute = new AttributeProto { Name = attributeName, Type = AttributeProto.Types.AttributeType.Ints };
            attribute.Ints.AddRange(values);
            node.Attribute.Add(attribute);
        }

        return output;
    }

    /// <summary>
    /// <c>x @ W + b</c> with W stored [in, out], as the exporter leaves a transposed torch Linear; quantized as
    /// <see cref="Quantization"/> says.
    /// </summary>
    public string Linear(string prefix, string input, int inDim, int outDim, bool bias)
    {
        var std = 1.0 / Math.Sqrt(inDim);
        var product = Quantization switch
        {
            // MatMulNBits takes W as [N = out, K = in].
            WhisperQuantization.DecoderQ4 => MatMulNBits($"{prefix}.MatMul", input, QuantizedMatrix.Quantize(Transposed(Draw($"{prefix}.weight", inDim * outDim, 0, std), inDim, outDim), outDim, inDim)),
            WhisperQuantization.DynamicInt8 => MatMulInteger($"{prefix}.MatMul", input, Draw($"{prefix}.weight", inDim * outDim, 0, std), inDim, outDim),
            _ => Op("MatMul", $"/{prefix}/MatMul", [input, Normal($"{prefix}.weight", [inDim, outDim], std)]),
        };

        if (!bias)
        {
            return product;
        }

        var b = Normal($"{prefix}.bias", [outDim], BiasStd);
        return Op("Add", $"/{prefix}/Add", [product, b]);
    }

    /// <summary>
    /// <c>x @ Wᵀ</c> for W [N, K] held as 4-bit blocks: a <c>com.microsoft.MatMulNBits</c> node (bits 4, the matrix's block, no zero
    /// points), its initialisers named as ONNX Runtime's int4 quantizer names them (<c>….weight_Q4</c>, <c>….weight_scales</c>).
    /// </summary>
    public string MatMulNBits(string tensorBase, string input, QuantizedMatrix weight, string? outputName = null)
    {
        var blocks = weight.BlocksPerRow;
        var packed = Weights.AddInitializer(tensorBase + ".weight_Q4", DataType.Uint8, [weight.Rows, blocks, weight.BlockSize / 2], weight.WritePacked);
        var scales = Weights.AddInitializer(tensorBase + ".weight_scales", DataType.Float, [weight.Rows, blocks], weight.WriteScalesAsFloat);
        var output = outputName ?? $"/{tensorBase}_Q4/output_0";
        Nodes.Node(
            "MatMulNBits",
            $"/{tensorBase}_Q4",
            [input, packed, scales],
            [output],
            "com.microsoft",
            ("K", (long)weight.Columns),
            ("N", (long)weight.Rows),
            ("bits", 4L),
            ("block_size", (long)weight.BlockSize),
            ("accuracy_level", 4L));
        return output;
    }

    /// <summary>
    /// <c>x @ W</c> for W [K, N] held as int8, as ONNX Runtime's dynamic quantization (<c>quantize_dynamic</c>, int8
    /// weights) writes a <c>MatMul</c>: <c>DynamicQuantizeLinear</c> turns x into uint8 with a scale and zero point per
    /// run, <c>MatMulInteger</c> multiplies in int32, and the product of the two scales brings it back to float (ONNX
    /// Runtime fuses the four into <c>DynamicQuantizeMatMul</c>). W is symmetric with one scale for the whole tensor
    /// (zero point 0), its initialisers named as the quantizer names them (<c>….weight_quantized</c>,
    /// <c>….weight_scale</c>, <c>….weight_zero_point</c>). The codes use the full range −127..127, as the quantizer does by
    /// default; its <c>reduce_range</c> (7-bit weights, for processors without VNNI where uint8 × int8 products can
    /// saturate) is not written.
    /// </summary>
    public string MatMulInteger(string tensorBase, string input, float[] weight, int k, int n, string? outputName = null)
    {
        var largest = 0f;
        foreach (var value in weight)
        {
            largest = Math.Max(largest, Math.Abs(value));
        }

        var scale = largest > 0 ? largest / 127f : 1f;
        var codes = new sbyte[weight.Length];
        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = (sbyte)Math.Clamp(MathF.Round(weight[i] / scale), -127f, 127f);
        }

        var quantized = Weights.AddInitializer(tensorBase + ".weight_quantized", DataType.Int8, [k, n], s => s.Write(MemoryMarshal.AsBytes(codes.AsSpan())));
        var weightScale = Floats(tensorBase + ".weight_scale", [], [scale]);
        var weightZero = Weights.AddInitializer(tensorBase + ".weight_zero_point", DataType.Int8, [], s => s.WriteByte(0));
        var node = $"/{tensorBase}_quant";
        string[] activation = [$"{node}/input_quantized", $"{node}/input_scale", $"{node}/input_zero_point"];
        Nodes.Node("DynamicQuantizeLinear", $"{node}/DynamicQuantizeLinear", [input], activation);
        var integer = Op("MatMulInteger", $"{node}/MatMulInteger", [activation[0], quantized, activation[2], weightZero]);
        var floats = Op("Cast", $"{node}/Cast", [integer], ("to", (long)DataType.Float));
        var scales = Op("Mul", $"{node}/scales_Mul", [activation[1], weightScale]);
        var output = outputName ?? $"{node}/output_0";
        Nodes.Node("Mul", $"{node}/Mul", [floats, scales], [output]);
        return output;
    }

    public string LayerNorm(string prefix, string input)
    {
        var d = Preset.DModel;
        var gamma = Floats($"{prefix}.weight", [d], Draw($"{prefix}.weight", d, 1.0, 0.1));
        var beta = Normal($"{prefix}.bias", [d], BiasStd);
        return Op("LayerNormalization", $"/{prefix}/LayerNormalization", [input, gamma, beta], ("axis", -1L), ("epsilon", 1e-5f));
    }

    /// <summary>GELU as torch exports it (erf form): <c>x * 0.5 * (1 + erf(x / sqrt 2))</c>.</summary>
    public string Gelu(string prefix, string input)
    {
        var erf = Op("Erf", $"/{prefix}/Erf", [Op("Div", $"/{prefix}/Div", [input, Scalar($"{prefix}.sqrt2", MathF.Sqrt(2f))])]);
        var plusOne = Op("Add", $"/{prefix}/Add", [erf, Scalar($"{prefix}.one", 1f)]);
        return Op("Mul", $"/{prefix}/Mul_1", [Op("Mul", $"/{prefix}/Mul", [input, plusOne]), Scalar($"{prefix}.half", 0.5f)]);
    }

    /// <summary>A projection split into heads: [batch, seq, d] to [batch, heads, seq, head_size].</summary>
    public string Heads(string prefix, string input, bool bias)
    {
        var projected = Linear(prefix, input, Preset.DModel, Preset.DModel, bias);
        var shape = Int64s($"{prefix}.heads_shape", 0, 0, Preset.AttentionHeads, Preset.HeadSize);
        var split = Op("Reshape", $"/{prefix}/Reshape", [projected, shape]);
        return OpWithInts("Transpose", $"/{prefix}/Transpose", [split], ("perm", [0, 2, 1, 3]));
    }

    /// <summary>Scaled dot-product attention of query heads over key/value heads, then the output projection.</summary>
    public string Attend(string prefix, string queryHeads, string keyHeads, string valueHeads, string? mask)
    {
        var scaled = Op("Mul", $"/{prefix}/q_scale", [queryHeads, Scalar($"{prefix}.scale", (float)(1.0 / Math.Sqrt(Preset.HeadSize)))]);
        var keysT = OpWithInts("Transpose", $"/{prefix}/k_transpose", [keyHeads], ("perm", [0, 1, 3, 2]));
        var scores = Op("MatMul", $"/{prefix}/scores", [scaled, keysT]);
        if (mask is not null)
        {
            scores = Op("Add", $"/{prefix}/mask_add", [scores, mask]);
        }

        var probabilities = Op("Softmax", $"/{prefix}/Softmax", [scores], ("axis", -1L));
        var context = Op("MatMul", $"/{prefix}/context", [probabilities, valueHeads]);
        var merged = OpWithInts("Transpose", $"/{prefix}/context_transpose", [context], ("perm", [0, 2, 1, 3]));
        var flat = Op("Reshape", $"/{prefix}/context_reshape", [merged, Int64s($"{prefix}.merge_shape", 0, 0, Preset.DModel)]);
        return Linear($"{prefix}.out_proj", flat, Preset.DModel, Preset.DModel, bias: true);
    }

    /// <summary>fc1, GELU, fc2.</summary>
    public string FeedForward(string prefix, string input)
    {
        var hidden = Gelu($"{prefix}.act", Linear($"{prefix}.fc1", input, Preset.DModel, Preset.FfnDim, bias: true));
        return Linear($"{prefix}.fc2", hidden, Preset.FfnDim, Preset.DModel, bias: true);
    }

    private string Constant(string name, TensorProto value)
    {
        var node = Nodes.Node("Constant", "/constant/" + name, [], [name]);
        node.Attribute.Add(new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        return name;
    }

    /// <summary>A row-major [<paramref name="rows"/> × <paramref name="columns"/>] matrix transposed, as a new array.</summary>
    public static float[] Transposed(float[] values, int rows, int columns)
    {
        var transposed = new float[values.Length];
        for (var r = 0; r < rows; r++)
        {
            for (var c = 0; c < columns; c++)
            {
                transposed[(c * rows) + r] = values[(r * columns) + c];
            }
        }

        return transposed;
    }

    /// <summary>Normal samples with the given mean and standard deviation from the tensor's own stream.</summary>
    public float[] Draw(string name, int count, double mean, double std)
    {
        var random = DeterministicRandom.ForStream(seed, name);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(mean + (std * random.NextNormal()));
        }

        return values;
    }
}
