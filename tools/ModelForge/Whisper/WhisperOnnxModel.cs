using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Onnx;
using Onnx;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Appliance.ModelForge.Whisper;

/// <summary>
/// The two graphs of the Optimum / transformers.js Whisper export: <c>encoder_model.onnx</c>
/// (<c>input_features</c> → <c>last_hidden_state</c>) and <c>decoder_model_merged.onnx</c>, a decoder with key/value
/// cache whose cross-attention keys and values are computed from <c>encoder_hidden_states</c> on the first step and
/// read back from <c>past_key_values.{i}.encoder.*</c> afterwards, switched by the boolean <c>use_cache_branch</c>.
/// The architecture is Whisper's: two convolutions with GELU, sinusoidal encoder positions, pre-norm layers,
/// learned decoder positions, and logits from the token embedding (tied weights).
/// </summary>
internal static class WhisperOnnxModel
{
    public static ModelProto Encoder(WhisperPreset preset, long seed, ExternalDataFile data, WhisperQuantization quantization = WhisperQuantization.None)
    {
        var graph = new OnnxGraphBuilder(data);
        // The q4 exports keep the encoder float32; the int8 ones quantize its linear layers too (the convolutions stay float).
        var e = new WhisperGraphEmitter(graph, seed, preset) { Quantization = quantization == WhisperQuantization.DynamicInt8 ? quantization : WhisperQuantization.None };
        var d = preset.DModel;
        graph.AddInput("input_features", DataType.Float, "batch_size", (long)preset.NumMelBins, "encoder_sequence_length");
        graph.AddOutput("last_hidden_state", DataType.Float, "batch_size", "encoder_sequence_length / 2", (long)d);

        var conv1 = e.Normal("model.encoder.conv1.weight", [d, preset.NumMelBins, 3], 1.0 / Math.Sqrt(preset.NumMelBins * 3));
        var x = e.OpWithInts("Conv", "/model/encoder/conv1/Conv", ["input_features", conv1, e.Normal("model.encoder.conv1.bias", [d], 0.02)], ("kernel_shape", [3]), ("pads", [1, 1]), ("strides", [1]));
        x = e.Gelu("model.encoder.conv1.act", x);
        var conv2 = e.Normal("model.encoder.conv2.weight", [d, d, 3], 1.0 / Math.Sqrt(d * 3));
        x = e.OpWithInts("Conv", "/model/encoder/conv2/Conv", [x, conv2, e.Normal("model.encoder.conv2.bias", [d], 0.02)], ("kernel_shape", [3]), ("pads", [1, 1]), ("strides", [2]));
        x = e.Gelu("model.encoder.conv2.act", x);
        x = e.OpWithInts("Transpose", "/model/encoder/Transpose", [x], ("perm", [0, 2, 1]));
        x = e.Op("Add", "/model/encoder/positions/Add", [x, e.Floats("model.encoder.embed_positions.weight", [preset.MaxSourcePositions, d], Sinusoids(preset.MaxSourcePositions, d))]);

        for (var layer = 0; layer < preset.EncoderLayers; layer++)
        {
            var p = $"model.encoder.layers.{layer}";
            var h = e.LayerNorm($"{p}.self_attn_layer_norm", x);
            var attention = e.Attend($"{p}.self_attn", e.Heads($"{p}.self_attn.q_proj", h, bias: true), e.Heads($"{p}.self_attn.k_proj", h, bias: false), e.Heads($"{p}.self_attn.v_proj", h, bias: true), mask: null);
            x = e.Op("Add", $"/{p}/residual_attn", [x, attention]);
            x = e.Op("Add", $"/{p}/residual_ffn", [x, e.FeedForward(p, e.LayerNorm($"{p}.final_layer_norm", x))]);
        }

        graph.Node("Identity", "/model/encoder/output", [e.LayerNorm("model.encoder.layer_norm", x)], ["last_hidden_state"]);
        return graph.Build();
    }

    /// <summary>
    /// A decoder graph of the export: the merged one, or one of the split pair; see <see cref="WhisperForge.Write"/> for
    /// the biases and the quantized variant. Every kind computes the same function from the same weights.
    /// </summary>
    public static ModelProto Decoder(WhisperPreset preset, long seed, ExternalDataFile data, WhisperDecoderGraph kind, float endOfTextBias = 0, IReadOnlyDictionary<int, float>? logitBias = null, WhisperQuantization quantization = WhisperQuantization.None)
    {
        var graph = new OnnxGraphBuilder(data);
        var e = new WhisperGraphEmitter(graph, seed, preset) { Quantization = quantization };
        var d = preset.DModel;
        var heads = (long)preset.AttentionHeads;
        var headSize = (long)preset.HeadSize;
        var hasPast = kind != WhisperDecoderGraph.First;
        var computesCross = kind != WhisperDecoderGraph.WithPast;
        graph.AddInput("input_ids", DataType.Int64, "batch_size", "decoder_sequence_length");
        if (computesCross)
        {
            graph.AddInput("encoder_hidden_states", DataType.Float, "batch_size", "encoder_sequence_length / 2", (long)d);
        }

        for (var i = 0; i < preset.DecoderLayers && hasPast; i++)
        {
            graph.AddInput($"past_key_values.{i}.decoder.key", DataType.Float, "batch_size", heads, "past_decoder_sequence_length", headSize);
            graph.AddInput($"past_key_values.{i}.decoder.value", DataType.Float, "batch_size", heads, "past_decoder_sequence_length", headSize);
            graph.AddInput($"past_key_values.{i}.encoder.key", DataType.Float, "batch_size", heads, "encoder_sequence_length_out", headSize);
            graph.AddInput($"past_key_values.{i}.encoder.value", DataType.Float, "batch_size", heads, "encoder_sequence_length_out", headSize);
        }

        if (kind == WhisperDecoderGraph.Merged)
        {
            graph.AddInput("use_cache_branch", DataType.Bool, 1L);
        }

        graph.AddOutput("logits", DataType.Float, "batch_size", "decoder_sequence_length", (long)WhisperPreset.VocabSize);
        for (var i = 0; i < preset.DecoderLayers; i++)
        {
            graph.AddOutput($"present.{i}.decoder.key", DataType.Float, "batch_size", heads, "past_decoder_sequence_length + 1", headSize);
            graph.AddOutput($"present.{i}.decoder.value", DataType.Float, "batch_size", heads, "past_decoder_sequence_length + 1", headSize);
            if (computesCross)
            {
                graph.AddOutput($"present.{i}.encoder.key", DataType.Float, "batch_size", heads, "encoder_sequence_length_out", headSize);
                graph.AddOutput($"present.{i}.encoder.value", DataType.Float, "batch_size", heads, "encoder_sequence_length_out", headSize);
            }
        }

        if (kind == WhisperDecoderGraph.Merged)
        {
            CrossAttentionCache(graph, e, preset, data);
        }
        else if (kind == WhisperDecoderGraph.First)
        {
            for (var i = 0; i < preset.DecoderLayers; i++)
            {
                foreach (var part in new[] { "key", "value" })
                {
                    var projected = e.Heads($"model.decoder.layers.{i}.encoder_attn.{part[0]}_proj", "encoder_hidden_states", bias: part == "value");
                    graph.Node("Identity", $"/cross/present.{i}.encoder.{part}", [projected], [$"present.{i}.encoder.{part}"]);
                }
            }
        }

        // Logits of about unit-normal inputs times this embedding have a spread of about 4, which keeps greedy
        // choices clear of float rounding differences between runtimes.
        var embeddingStd = 4.0 / Math.Sqrt(d);
        var embedTokens = e.Normal("model.decoder.embed_tokens.weight", [WhisperPreset.VocabSize, d], embeddingStd);
        var zero = graph.Int64Constant(0, vector: true);
        var one = graph.Int64Constant(1, vector: true);
        var pastLength = hasPast ? e.Op("Shape", "/model/decoder/past_length", ["past_key_values.0.decoder.key"], ("start", 2L), ("end", 3L)) : zero;
        var newLength = e.Op("Shape", "/model/decoder/new_length", ["input_ids"], ("start", 1L), ("end", 2L));
        var totalLength = e.Op("Add", "/model/decoder/total_length", [pastLength, newLength]);
        var positions = e.Op("Range", "/model/decoder/positions", [e.Op("Squeeze", "/model/decoder/past_scalar", [pastLength, zero]), e.Op("Squeeze", "/model/decoder/total_scalar", [totalLength, zero]), e.Op("Squeeze", "/model/decoder/one_scalar", [one, zero])]);
        var keyPositions = e.Op("Range", "/model/decoder/key_positions", [e.Op("Squeeze", "/model/decoder/zero_scalar", [e.Int64s("model.decoder.zero", 0), zero]), "/model/decoder/total_scalar/output_0", "/model/decoder/one_scalar/output_0"]);
        var allowed = e.Op("LessOrEqual", "/model/decoder/causal", [keyPositions, e.Op("Unsqueeze", "/model/decoder/query_positions", [positions, one])]);
        var mask = e.Op("Where", "/model/decoder/causal_mask", [allowed, e.Scalar("model.decoder.mask_open", 0f), e.Scalar("model.decoder.mask_closed", -1e9f)]);

        var x = e.Op("Gather", "/model/decoder/embed_tokens/Gather", [embedTokens, "input_ids"]);
        // Positions larger than the token embedding keep a random decoder from repeating one token forever.
        var learnedPositions = e.Normal("model.decoder.embed_positions.weight", [preset.MaxTargetPositions, d], 3.0);
        x = e.Op("Add", "/model/decoder/positions/Add", [x, e.Op("Gather", "/model/decoder/embed_positions/Gather", [learnedPositions, positions])]);

        for (var layer = 0; layer < preset.DecoderLayers; layer++)
        {
            var p = $"model.decoder.layers.{layer}";
            var h = e.LayerNorm($"{p}.self_attn_layer_norm", x);
            var keys = e.Heads($"{p}.self_attn.k_proj", h, bias: false);
            var values = e.Heads($"{p}.self_attn.v_proj", h, bias: true);
            if (hasPast)
            {
                graph.Node("Concat", $"/{p}/self_attn/present_key", [$"past_key_values.{layer}.decoder.key", keys], [$"present.{layer}.decoder.key"], "", ("axis", 2L));
                graph.Node("Concat", $"/{p}/self_attn/present_value", [$"past_key_values.{layer}.decoder.value", values], [$"present.{layer}.decoder.value"], "", ("axis", 2L));
            }
            else
            {
                graph.Node("Identity", $"/{p}/self_attn/present_key", [keys], [$"present.{layer}.decoder.key"]);
                graph.Node("Identity", $"/{p}/self_attn/present_value", [values], [$"present.{layer}.decoder.value"]);
            }

            var attention = e.Attend($"{p}.self_attn", e.Heads($"{p}.self_attn.q_proj", h, bias: true), $"present.{layer}.decoder.key", $"present.{layer}.decoder.value", mask);
            x = e.Op("Add", $"/{p}/residual_self", [x, attention]);

            h = e.LayerNorm($"{p}.encoder_attn_layer_norm", x);
            // The split decoder with past reads the cross-attention cache straight from its inputs: nothing is copied a step.
            var cross = kind == WhisperDecoderGraph.WithPast ? $"past_key_values.{layer}.encoder" : $"present.{layer}.encoder";
            attention = e.Attend($"{p}.encoder_attn", e.Heads($"{p}.encoder_attn.q_proj", h, bias: true), $"{cross}.key", $"{cross}.value", mask: null);
            x = e.Op("Add", $"/{p}/residual_cross", [x, attention]);
            x = e.Op("Add", $"/{p}/residual_ffn", [x, e.FeedForward(p, e.LayerNorm($"{p}.final_layer_norm", x))]);
        }

        x = e.LayerNorm("model.decoder.layer_norm", x);
        var biased = endOfTextBias != 0 || logitBias is { Count: > 0 };
        string unbiased;
        if (quantization != WhisperQuantization.None)
        {
            // The head reads the tied embedding quantized; the Gather above keeps the float table (one row a step).
            var table = e.Draw("model.decoder.embed_tokens.weight", WhisperPreset.VocabSize * d, 0, embeddingStd);
            var logits = biased ? null : "logits";
            unbiased = quantization == WhisperQuantization.DynamicInt8
                ? e.MatMulInteger("proj_out", x, WhisperGraphEmitter.Transposed(table, WhisperPreset.VocabSize, d), d, WhisperPreset.VocabSize, logits)
                : e.MatMulNBits("proj_out", x, QuantizedMatrix.Quantize(table, WhisperPreset.VocabSize, d), logits);
        }
        else
        {
            var head = e.OpWithInts("Transpose", "/proj_out/Transpose", [embedTokens], ("perm", [1, 0]));
            unbiased = biased ? e.Op("MatMul", "/proj_out/MatMul", [x, head]) : graph.Node("MatMul", "/proj_out/MatMul", [x, head], ["logits"]).Output[0];
        }

        if (!biased)
        {
            return graph.Build();
        }

        var bias = new float[WhisperPreset.VocabSize];
        foreach (var (id, value) in logitBias ?? new Dictionary<int, float>())
        {
            bias[id] += value;
        }

        bias[WhisperVocabulary.EndOfText] += endOfTextBias;
        graph.Node("Add", "/proj_out/end_of_text_bias", [unbiased, e.Floats("proj_out.end_of_text_bias", [WhisperPreset.VocabSize], bias)], ["logits"]);
        return graph.Build();
    }

    /// <summary>
    /// The <c>If</c> on <c>use_cache_branch</c>: the cache branch passes the past cross-attention keys and values
    /// through; the other projects <c>encoder_hidden_states</c> with each layer's cross-attention k/v weights.
    /// </summary>
    private static void CrossAttentionCache(OnnxGraphBuilder graph, WhisperGraphEmitter e, WhisperPreset preset, ExternalDataFile data)
    {
        var heads = (long)preset.AttentionHeads;
        var headSize = (long)preset.HeadSize;
        // The branches hold nodes only; every initializer is written to the main graph (see WhisperGraphEmitter).
        var thenBranch = new OnnxGraphBuilder(data);
        var elseBranch = new OnnxGraphBuilder(data);
        var outputs = new List<string>();
        for (var i = 0; i < preset.DecoderLayers; i++)
        {
            foreach (var part in new[] { "key", "value" })
            {
                var name = $"present.{i}.encoder.{part}";
                outputs.Add(name);
                thenBranch.AddOutput(name + "/cached", DataType.Float, "batch_size", heads, "encoder_sequence_length_out", headSize);
                thenBranch.Node("Identity", $"/cache/{name}", [$"past_key_values.{i}.encoder.{part}"], [name + "/cached"]);

                e.Nodes = elseBranch;
                var projected = e.Heads($"model.decoder.layers.{i}.encoder_attn.{part[0]}_proj", "encoder_hidden_states", bias: part == "value");
                elseBranch.AddOutput(projected, DataType.Float, "batch_size", heads, "encoder_sequence_length / 2", headSize);
                e.Nodes = graph;
            }
        }

        var thenGraph = thenBranch.Build().Graph;
        thenGraph.Name = "use_cache_branch_true";
        var elseGraph = elseBranch.Build().Graph;
        elseGraph.Name = "use_cache_branch_false";
        var node = graph.Node("If", "optimum::if", ["use_cache_branch"], [.. outputs]);
        node.Attribute.Add(new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = thenGraph });
        node.Attribute.Add(new AttributeProto { Name = "else_branch", Type = AttributeProto.Types.AttributeType.Graph, G = elseGraph });
    }

    /// <summary>Whisper's fixed sinusoidal encoder positions: sin of each timescale, then cos.</summary>
    private static float[] Sinusoids(int length, int channels)
    {
        var half = channels / 2;
        var increment = Math.Log(10000) / (half - 1);
        var values = new float[length * channels];
        for (var t = 0; t < length; t++)
        {
            for (var c = 0; c < half; c++)
            {
                var angle = t * Math.Exp(-increment * c);
                values[(t * channels) + c] = (float)Math.Sin(angle);
                values[(t * channels) + half + c] = (float)Math.Cos(angle);
            }
        }

        return values;
    }
}

/// <summary>The decoder graphs of the Optimum / transformers.js Whisper export.</summary>
internal enum WhisperDecoderGraph
{
    /// <summary><c>decoder_model_merged.onnx</c>: both steps in one graph, switched by <c>use_cache_branch</c>.</summary>
    Merged,

    /// <summary><c>decoder_model.onnx</c>: the first step, from <c>encoder_hidden_states</c>, returning both caches.</summary>
    First,

    /// <summary><c>decoder_with_past_model.onnx</c>: every later step, reading both caches from its inputs.</summary>
    WithPast,
}
