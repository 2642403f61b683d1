using System.Runtime.InteropServices;
using Appliance.ModelForge.Llm;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Appliance.ModelForge.Onnx;

/// <summary>
/// Emits a Qwen2 decoder as ONNX Runtime GenAI's model builder does for the CPU int4 target: packed q/k/v
/// <c>MatMulNBits</c> plus bias, <c>GroupQueryAttention</c> with rotary embedding inside the op, Simplified and
/// SkipSimplified RMSNorm, SwiGLU MLP (Sigmoid and Mul) and an int4 LM head, optionally pruned to the last position
/// (the builder's <c>prune_lm_head=true</c>). The KV cache is float32, or float16 with the attention in float16
/// between two <c>Cast</c> nodes. The embedding is a float table, or
/// int4 codes read by <c>GatherBlockQuantized</c>; with tied embeddings and int4, the embedding and the LM head
/// read one initializer. Node, tensor and value names follow the builder so tools that inspect its models find the
/// same graph (the int4 embedding's own tensors are named <c>model.embed_tokens.qweight</c> and <c>.scales</c>).
/// </summary>
internal sealed class Qwen2OnnxModel
{
    private const int Bits = 4;
    private readonly LlmPreset _preset;
    private readonly int _accuracyLevel;
    private readonly int _blockSize;
    private readonly bool _pruneLmHead;
    private readonly DataType _kvType;
    private readonly OnnxGraphBuilder _graph;
    private readonly string _seqlensK;
    private readonly string _totalSequenceLength;
    private string _root = string.Empty;
    private string _skip = string.Empty;
    private string? _cosCache;
    private string? _sinCache;
    private (string Weight, string Scales)? _tiedHead;
    private QuantizedMatrix? _embedding;

    /// <param name="preset">The shapes.</param>
    /// <param name="graph">Where the nodes and initializers go.</param>
    /// <param name="options">
    /// The layout: <see cref="LlmForgeOptions.MatMulAccuracyLevel"/>, <see cref="LlmForgeOptions.MatMulBlockSize"/> (of
    /// every int4 tensor, <c>MatMulNBits</c> and <c>GatherBlockQuantized</c>), <see cref="LlmForgeOptions.PruneLmHead"/>
    /// and <see cref="LlmForgeOptions.KvCache"/>; the embedding's format comes with <see cref="Embedding"/>.
    /// </param>
    public Qwen2OnnxModel(LlmPreset preset, OnnxGraphBuilder graph, LlmForgeOptions options)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The forge writes little-endian tensors and runs only on little-endian machines.");
        }

        _preset = preset;
        _graph = graph;
        _accuracyLevel = options.MatMulAccuracyLevel;
        _blockSize = options.MatMulBlockSize;
        _pruneLmHead = options.PruneLmHead;
        _kvType = options.KvCache == LlmKvCachePrecision.Fp16 ? DataType.Float16 : DataType.Float;
        var kvShape = new object[] { "batch_size", (long)preset.NumKeyValueHeads, "past_sequence_length", (long)preset.HeadSize };
        var presentShape = new object[] { "batch_size", (long)preset.NumKeyValueHeads, "total_sequence_length", (long)preset.HeadSize };
        graph.AddInput("input_ids", DataType.Int64, "batch_size", "sequence_length");
        graph.AddInput("attention_mask", DataType.Int64, "batch_size", "total_sequence_length");
        for (var i = 0; i < preset.NumHiddenLayers; i++)
        {
            graph.AddInput($"past_key_values.{i}.key", _kvType, kvShape);
            graph.AddInput($"past_key_values.{i}.value", _kvType, kvShape);
        }

        // GenAI reads a logits output whose second dimension is the constant 1 as last-position logits.
        graph.AddOutput("logits", DataType.Float, "batch_size", _pruneLmHead ? 1L : (object)"sequence_length", (long)preset.VocabSize);
        for (var i = 0; i < preset.NumHiddenLayers; i++)
        {
            graph.AddOutput($"present.{i}.key", _kvType, presentShape);
            graph.AddOutput($"present.{i}.value", _kvType, presentShape);
        }

        (_seqlensK, _totalSequenceLength) = AttentionMaskSubgraph();
    }

    /// <summary>
    /// The embedding: the float table dequantized from the same codes the GGUF stores, or 4-bit codes in the model's
    /// block (uint8 [vocabulary, hidden / 2], two codes per byte, low nibble first, and float scales
    /// [vocabulary, hidden / block]) for <c>GatherBlockQuantized</c>: at block 32 the GGUF's codes themselves, so the
    /// gather gives the float table's values exactly.
    /// </summary>
    public void Embedding(QuantizedMatrix table, LlmEmbeddingFormat format)
    {
        _embedding = table;
        if (format == LlmEmbeddingFormat.Dequantized)
        {
            var weight = _graph.AddInitializer("model.embed_tokens.weight", DataType.Float, [table.Rows, table.Columns], table.WriteDequantizedFloat);
            const string Name = "/model/embed_tokens/Gather";
            _graph.Node("Gather", Name, [weight, "input_ids"], [Name + "/output_0"]);
            _root = _skip = Name + "/output_0";
            return;
        }

        string data, scales;
        if (_preset.TieWordEmbeddings)
        {
            // The LM head's MatMulNBits blob [N, K/block, block/2] is the same bytes as [N, K/2]; one reshape lets both read it.
            var head = QuantizedInitializers("lm_head.MatMul", [table]);
            _tiedHead = head;
            data = "/model/embed_tokens/Reshape/output_0";
            _graph.Node("Reshape", "/model/embed_tokens/Reshape", [head.Weight, _graph.Int64Vector(table.Rows, table.Columns / 2)], [data]);
            scales = head.Scales;
        }
        else
        {
            var blocked = table.Reblocked(_blockSize);
            data = _graph.AddInitializer("model.embed_tokens.qweight", DataType.Uint8, [blocked.Rows, blocked.Columns / 2], blocked.WritePacked);
            scales = _graph.AddInitializer("model.embed_tokens.scales", DataType.Float, [blocked.Rows, blocked.BlocksPerRow], blocked.WriteScalesAsFloat);
        }

        const string GatherName = "/model/embed_tokens/GatherBlockQuantized";
        _graph.Node(
            "GatherBlockQuantized",
            GatherName,
            [data, "input_ids", scales],
            [GatherName + "/output_0"],
            "com.microsoft",
            ("bits", (long)Bits),
            ("block_size", (long)_blockSize),
            ("gather_axis", 0L),
            ("quantize_axis", 1L));
        _root = _skip = GatherName + "/output_0";
    }

    public void Layer(int layer, DecoderLayerWeights weights)
    {
        var normed = LayerNorm(layer, "input", weights.InputNorm, first: layer == 0);
        var attention = Attention(layer, weights, normed);
        _skip = attention;
        normed = LayerNorm(layer, "post_attention", weights.PostAttentionNorm, first: false);
        _skip = Mlp(layer, weights, normed);
    }

    /// <summary>
    /// The last SkipSimplifiedLayerNorm and the LM head, whose output is the graph's <c>logits</c>. With tied int4
    /// embeddings the head reads the embedding's initializers and <paramref name="lmHead"/> must be that table. A pruned
    /// head takes the last position's hidden state first (<c>Gather</c> at index -1 of axis 1, then <c>Unsqueeze</c>
    /// back to [batch, 1, hidden]), as the builder's <c>prune_lm_head</c> does.
    /// </summary>
    public void Head(float[] finalNorm, QuantizedMatrix lmHead)
    {
        if (_tiedHead is not null && !ReferenceEquals(lmHead, _embedding))
        {
            throw new ArgumentException("With tied int4 embeddings the LM head is the embedding table.", nameof(lmHead));
        }

        var layer = _preset.NumHiddenLayers;
        var weight = FloatInitializer($"model.layers.{layer}.final_norm_layernorm.weight", finalNorm);
        var name = $"/model/layers.{layer}/final_norm_layernorm/SkipLayerNorm";
        var output = $"/model/layers.{layer}/final_norm_layernorm/output_0";
        _graph.Node("SkipSimplifiedLayerNormalization", name, [_root, _skip, weight], [output], "com.microsoft", ("epsilon", (float)_preset.RmsNormEpsilon));
        if (_pruneLmHead)
        {
            const string Gather = "/lm_head/prune/Gather";
            const string Unsqueeze = "/lm_head/prune/Unsqueeze";
            _graph.Node("Gather", Gather, [output, _graph.Int64Constant(-1, vector: false)], [Gather + "/output_0"], "", ("axis", 1L));
            _graph.Node("Unsqueeze", Unsqueeze, [Gather + "/output_0", _graph.Int64Constant(1, vector: true)], [Unsqueeze + "/output_0"]);
            output = Unsqueeze + "/output_0";
        }

        MatMulNBits("/lm_head/MatMul", "lm_head.MatMul", output, [lmHead], outputName: "logits", shared: _tiedHead);
    }

    private (string SeqlensK, string TotalSequenceLength) AttentionMaskSubgraph()
    {
        const string Basename = "/model/attn_mask_reformat/attn_mask_subgraph";
        var one = _graph.Int64Constant(1, vector: true);
        _graph.Node("ReduceSum", Basename + "/ReduceSum", ["attention_mask", one], [Basename + "/ReduceSum/output_0"], "", ("keepdims", 0L));
        _graph.Node("Sub", Basename + "/Sub", [Basename + "/ReduceSum/output_0", one], [Basename + "/Sub/output_0"]);
        _graph.Node("Cast", Basename + "/Sub/Cast", [Basename + "/Sub/output_0"], [Basename + "/Sub/Cast/output_0"], "", ("to", (long)DataType.Int32));
        _graph.Node("Shape", Basename + "/Shape", ["attention_mask"], [Basename + "/Shape/output_0"]);
        _graph.Node("Gather", Basename + "/Gather", [Basename + "/Shape/output_0", _graph.Int64Constant(1, vector: false)], [Basename + "/Gather/output_0"], "", ("axis", 0L));
        _graph.Node("Cast", Basename + "/Gather/Cast", [Basename + "/Gather/output_0"], [Basename + "/Gather/Cast/output_0"], "", ("to", (long)DataType.Int32));
        return (Basename + "/Sub/Cast/output_0", Basename + "/Gather/Cast/output_0");
    }

    private string LayerNorm(int layer, string location, float[] values, bool first)
    {
        var weight = FloatInitializer($"model.layers.{layer}.{location}_layernorm.weight", values);
        var output0 = $"/model/layers.{layer}/{location}_layernorm/output_0";
        var epsilon = ("epsilon", (object)(float)_preset.RmsNormEpsilon);
        if (first)
        {
            _graph.Node("SimplifiedLayerNormalization", $"/model/layers.{layer}/{location}_layernorm/LayerNorm", [_root, weight], [output0], "", ("axis", -1L), epsilon, ("stash_type", 1L));
            return output0;
        }

        var output3 = $"/model/layers.{layer}/{location}_layernorm/output_3";
        _graph.Node("SkipSimplifiedLayerNormalization", $"/model/layers.{layer}/{location}_layernorm/SkipLayerNorm", [_root, _skip, weight], [output0, string.Empty, string.Empty, output3], "com.microsoft", epsilon);
        _root = output3;
        return output0;
    }

    private string Attention(int layer, DecoderLayerWeights weights, string input)
    {
        var basename = $"/model/layers.{layer}/attn";
        var qkv = MatMulNBits(basename + "/qkv_proj/MatMul", $"model.layers.{layer}.attn.qkv_proj.MatMul", input, [weights.Query, weights.Key, weights.Value]);
        var bias = FloatInitializer($"model.layers.{layer}.attn.qkv_proj.Add.bias", [.. weights.QueryBias, .. weights.KeyBias, .. weights.ValueBias]);
        var biased = basename + "/qkv_proj/Add/output_0";
        _graph.Node("Add", basename + "/qkv_proj/Add", [qkv, bias], [biased]);

        if (_kvType != DataType.Float)
        {
            // GroupQueryAttention takes its inputs, cache and rotary caches in one type.
            _graph.Node("Cast", basename + "/qkv_proj/Cast", [biased], [basename + "/qkv_proj/Cast/output_0"], "", ("to", (long)_kvType));
            biased = basename + "/qkv_proj/Cast/output_0";
        }

        var (cos, sin) = RotaryCaches();
        var attention = basename + "/GroupQueryAttention/output_0";
        _graph.Node(
            "GroupQueryAttention",
            basename + "/GroupQueryAttention",
            [biased, string.Empty, string.Empty, $"past_key_values.{layer}.key", $"past_key_values.{layer}.value", _seqlensK, _totalSequenceLength, cos, sin],
            [attention, $"present.{layer}.key", $"present.{layer}.value"],
            "com.microsoft",
            ("num_heads", (long)_preset.NumAttentionHeads),
            ("kv_num_heads", (long)_preset.NumKeyValueHeads),
            ("scale", (float)(1.0 / Math.Sqrt(_preset.HeadSize))),
            ("local_window_size", -1L),
            ("softcap", 0.0f),
            ("do_rotary", 1L),
            ("rotary_interleaved", 0L));
        if (_kvType != DataType.Float)
        {
            _graph.Node("Cast", basename + "/GroupQueryAttention/Cast", [attention], [basename + "/GroupQueryAttention/Cast/output_0"], "", ("to", (long)DataType.Float));
            attention = basename + "/GroupQueryAttention/Cast/output_0";
        }

        return MatMulNBits(basename + "/o_proj/MatMul", $"model.layers.{layer}.attn.o_proj.MatMul", attention, [weights.Output]);
    }

    private string Mlp(int layer, DecoderLayerWeights weights, string input)
    {
        var basename = $"/model/layers.{layer}/mlp";
        var gate = MatMulNBits(basename + "/gate_proj/MatMul", $"model.layers.{layer}.mlp.gate_proj.MatMul", input, [weights.Gate]);
        var up = MatMulNBits(basename + "/up_proj/MatMul", $"model.layers.{layer}.mlp.up_proj.MatMul", input, [weights.Up]);
        _graph.Node("Sigmoid", basename + "/act_fn/Sigmoid", [gate], [basename + "/act_fn/Sigmoid/output_0"]);
        _graph.Node("Mul", basename + "/act_fn/Mul", [gate, basename + "/act_fn/Sigmoid/output_0"], [basename + "/act_fn/Mul/output_0"]);
        _graph.Node("Mul", basename + "/Mul", [basename + "/act_fn/Mul/output_0", up], [basename + "/Mul/output_0"]);
        return MatMulNBits(basename + "/down_proj/MatMul", $"model.layers.{layer}.mlp.down_proj.MatMul", basename + "/Mul/output_0", [weights.Down]);
    }

    /// <summary>
    /// One <c>MatMulNBits</c> over the given matrices stacked along N (one matrix, or q|k|v for the packed
    /// projection). Names follow ONNX Runtime's int4 quantizer: node <c>…/MatMul_Q4</c>, tensors
    /// <c>….weight_Q4</c> and <c>….weight_scales</c>; symmetric, so no zero points.
    /// </summary>
    private string MatMulNBits(string nodeBase, string tensorBase, string input, QuantizedMatrix[] stacked, string? outputName = null, (string Weight, string Scales)? shared = null)
    {
        var k = stacked[0].Columns;
        var n = stacked.Sum(m => m.Rows);
        var (weight, scales) = shared ?? QuantizedInitializers(tensorBase, stacked);
        var output = outputName ?? nodeBase + "/output_0";
        _graph.Node(
            "MatMulNBits",
            nodeBase + "_Q4",
            [input, weight, scales],
            [output],
            "com.microsoft",
            ("K", (long)k),
            ("N", (long)n),
            ("bits", (long)Bits),
            ("block_size", (long)_blockSize),
            ("accuracy_level", (long)_accuracyLevel));
        return output;
    }

    /// <summary>
    /// The <c>MatMulNBits</c> weight (uint8 [N, K/block, block/2]) and scales (float [N, K/block]) of the given matrices
    /// stacked along N, in the model's blocks, named <c>….weight_Q4</c> and <c>….weight_scales</c>.
    /// </summary>
    private (string Weight, string Scales) QuantizedInitializers(string tensorBase, QuantizedMatrix[] stacked)
    {
        stacked = [.. stacked.Select(m => m.Reblocked(_blockSize))];
        var n = stacked.Sum(m => m.Rows);
        var blocks = stacked[0].BlocksPerRow;
        var weight = _graph.AddInitializer(tensorBase + ".weight_Q4", DataType.Uint8, [n, blocks, _blockSize / 2], s =>
        {
            foreach (var matrix in stacked)
            {
                matrix.WritePacked(s);
            }
        });
        var scales = _graph.AddInitializer(tensorBase + ".weight_scales", DataType.Float, [n, blocks], s =>
        {
            foreach (var matrix in stacked)
            {
                matrix.WriteScalesAsFloat(s);
            }
        });
        return (weight, scales);
    }

    /// <summary>cos/sin caches [context_length, head_size / 2] shared by all layers (RoPE, non-interleaved), in the KV cache's type.</summary>
    private (string Cos, string Sin) RotaryCaches()
    {
        if (_cosCache is not null && _sinCache is not null)
        {
            return (_cosCache, _sinCache);
        }

        var half = _preset.HeadSize / 2;
        var cos = new float[_preset.ContextLength * half];
        var sin = new float[_preset.ContextLength * half];
        for (var position = 0; position < _preset.ContextLength; position++)
        {
            for (var i = 0; i < half; i++)
            {
                var inverseFrequency = 1.0 / Math.Pow(_preset.RopeTheta, 2.0 * i / _preset.HeadSize);
                var angle = position * inverseFrequency;
                cos[(position * half) + i] = (float)Math.Cos(angle);
                sin[(position * half) + i] = (float)Math.Sin(angle);
            }
        }

        _cosCache = KvTypedInitializer("cos_cache", cos, [_preset.ContextLength, half]);
        _sinCache = KvTypedInitializer("sin_cache", sin, [_preset.ContextLength, half]);
        return (_cosCache, _sinCache);
    }

    private string KvTypedInitializer(string name, float[] values, long[] dims)
    {
        if (_kvType == DataType.Float)
        {
            return FloatInitializer(name, values, dims);
        }

        var halves = Array.ConvertAll(values, v => (Half)v);
        return _graph.AddInitializer(name, _kvType, dims, s => s.Write(MemoryMarshal.AsBytes(halves.AsSpan())));
    }

    private string FloatInitializer(string name, float[] values, long[]? dims = null) =>
        _graph.AddInitializer(name, DataType.Float, dims ?? [values.Length], s => s.Write(MemoryMarshal.AsBytes(values.AsSpan())));
}
