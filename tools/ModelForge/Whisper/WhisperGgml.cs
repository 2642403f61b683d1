using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.Audio;
using Google.Protobuf;
using Onnx;

namespace Appliance.ModelForge.Whisper;

/// <summary>
/// Writes the whisper.cpp twin of a forged Whisper: the same weights, read back from the model's ONNX graphs, in
/// whisper.cpp's model file format (the one its <c>convert-pt-to-ggml.py</c> writes and <c>whisper_model_load</c>
/// reads): the magic <c>ggml</c>, eleven int32 hyper-parameters, the mel filter bank, the vocabulary as length-prefixed
/// bytes, then each tensor as [n_dims, name length, type, ne[0..n_dims)] + name + data, all little-endian. File type 1
/// (mostly float16), the type whisper.cpp's published models have: the matrices (linear layers, convolution kernels,
/// token embedding) are float16, the rest (biases, norms, positions) float32. whisper.cpp's CPU convolution takes
/// float16 kernels only, so a float32 file (type 0) loads but cannot run. Linear weights are stored [out, in] as PyTorch
/// keeps them, where the ONNX <c>MatMul</c> initialisers are [in, out].
/// </summary>
/// <remarks>
/// What does not carry over: a logit bias the ONNX decoder was forged with (<c>--end-of-text-bias</c>, a no-speech or
/// loop bias) has no place in the format, and a quantized model (<c>--decoder-q4</c>, <c>--int8</c>) holds no float weights to convert,
/// so write the twin of a float model forged without a bias. The vocabulary written is the forge's generated one (bytes
/// and made-up words), even for a folder whose tokenizer was copied in: token ids agree, texts then do not. whisper.cpp
/// computes GELU with its own approximation and its log-mel with its own FFT, so the two engines' logits agree closely,
/// not bit for bit.
/// </remarks>
public static class WhisperGgml
{
    /// <summary>The file name the forge gives the twin, beside the ONNX model's files.</summary>
    public const string FileName = "ggml-model.bin";

    private const uint Magic = 0x67676d6c; // "ggml", GGML_FILE_MAGIC
    private const int TypeF32 = 0;
    private const int TypeF16 = 1;
    private const int FileTypeMostlyF16 = 1;

    /// <summary>Writes the twin of the forged model in <paramref name="modelFolder"/> to <paramref name="path"/>.</summary>
    /// <param name="modelFolder">A folder written by <see cref="WhisperForge.Write"/> without a logit bias.</param>
    /// <param name="path">The file to write (replaced when it exists).</param>
    /// <exception cref="InvalidDataException">The folder's config or graphs lack what the format needs (a key, a float
    /// weight), carry a logit bias, or have shapes whisper.cpp does not take; nothing is written then.</exception>
    /// <exception cref="IOException">A file cannot be read or written.</exception>
    public static void Write(string modelFolder, string path)
    {
        // Written beside the target and moved over it at the end: a failed or interrupted write leaves no partial model.
        var partial = path + ".partial";
        try
        {
            WriteTo(modelFolder, partial);
            File.Move(partial, path, overwrite: true);
        }
        finally
        {
            File.Delete(partial);
        }
    }

    private static void WriteTo(string modelFolder, string path)
    {
        var onnx = Path.Combine(modelFolder, WhisperForge.OnnxFolder);
        using var encoder = new Initializers(Path.Combine(onnx, WhisperForge.EncoderFileName));
        var merged = Path.Combine(onnx, WhisperForge.DecoderFileName);
        using var decoder = new Initializers(File.Exists(merged) ? merged : Path.Combine(onnx, WhisperForge.FirstDecoderFileName));
        if (decoder.Contains("proj_out.end_of_text_bias"))
        {
            throw new InvalidDataException($"{modelFolder} was forged with a logit bias, which whisper.cpp's format cannot carry: forge the model without one for its twin.");
        }

        if (!decoder.Contains("model.decoder.layers.0.fc1.weight"))
        {
            throw new InvalidDataException($"{modelFolder} has a quantized decoder, with no float weights to convert: forge the float model for its twin.");
        }

        using var config = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(modelFolder, "config.json")));
        int Config(string key) => config.RootElement.TryGetProperty(key, out var value) && value.TryGetInt32(out var number)
            ? number
            : throw new InvalidDataException($"{modelFolder}/config.json has no integer {key}.");
        var dModel = Config("d_model");
        var melBins = Config("num_mel_bins");
        var encoderLayers = Config("encoder_layers");
        var decoderLayers = Config("decoder_layers");
        var heads = Config("encoder_attention_heads");
        if (Config("decoder_attention_heads") != heads || Config("encoder_ffn_dim") != 4 * dModel || Config("decoder_ffn_dim") != 4 * dModel || Config("vocab_size") != WhisperVocabulary.Size)
        {
            throw new InvalidDataException($"{modelFolder}: whisper.cpp takes one head count for both stacks, feed-forward layers 4 × d_model wide (as every released Whisper has) and a vocabulary of {WhisperVocabulary.Size}.");
        }

        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: false);
        writer.Write(Magic);
        foreach (var value in new[] { WhisperVocabulary.Size, Config("max_source_positions"), dModel, heads, encoderLayers, Config("max_target_positions"), dModel, heads, decoderLayers, melBins, FileTypeMostlyF16 })
        {
            writer.Write(value);
        }

        var filters = new WhisperLogMel(melBins).FilterWeights();
        writer.Write(melBins);
        writer.Write(filters.Length / melBins);
        WriteFloats(writer, filters);

        writer.Write(WhisperVocabulary.EndOfText); // the text tokens; whisper.cpp names the special ones itself
        for (var id = 0; id < WhisperVocabulary.EndOfText; id++)
        {
            // Ids 0-255 are the bytes themselves; a filler's leading Ġ is its space.
            var bytes = id < 256 ? [(byte)id] : Encoding.UTF8.GetBytes(" " + WhisperTokenizerFiles.Filler(id)[1..]);
            writer.Write(bytes.Length);
            writer.Write(bytes);
        }

        WriteEncoder(writer, encoder, encoderLayers);
        WriteDecoder(writer, decoder, decoderLayers);
    }

    private static void WriteEncoder(BinaryWriter writer, Initializers encoder, int layers)
    {
        Tensor(writer, "encoder.positional_embedding", encoder, "model.encoder.embed_positions.weight");
        foreach (var conv in new[] { "conv1", "conv2" })
        {
            Tensor(writer, $"encoder.{conv}.weight", encoder, $"model.encoder.{conv}.weight", TypeF16);
            var bias = encoder.Floats($"model.encoder.{conv}.bias");
            WriteTensor(writer, $"encoder.{conv}.bias", [bias.Length, 1], bias); // [n_state, 1], as whisper.cpp keeps it
        }

        for (var i = 0; i < layers; i++)
        {
            var from = $"model.encoder.layers.{i}";
            var to = $"encoder.blocks.{i}";
            Attention(writer, encoder, $"{from}.self_attn", $"{to}.attn", $"{from}.self_attn_layer_norm", $"{to}.attn_ln");
            FeedForward(writer, encoder, from, to);
        }

        LayerNorm(writer, encoder, "model.encoder.layer_norm", "encoder.ln_post");
    }

    private static void WriteDecoder(BinaryWriter writer, Initializers decoder, int layers)
    {
        Tensor(writer, "decoder.positional_embedding", decoder, "model.decoder.embed_positions.weight");
        Tensor(writer, "decoder.token_embedding.weight", decoder, "model.decoder.embed_tokens.weight", TypeF16);
        for (var i = 0; i < layers; i++)
        {
            var from = $"model.decoder.layers.{i}";
            var to = $"decoder.blocks.{i}";
            Attention(writer, decoder, $"{from}.self_attn", $"{to}.attn", $"{from}.self_attn_layer_norm", $"{to}.attn_ln");
            Attention(writer, decoder, $"{from}.encoder_attn", $"{to}.cross_attn", $"{from}.encoder_attn_layer_norm", $"{to}.cross_attn_ln");
            FeedForward(writer, decoder, from, to);
        }

        LayerNorm(writer, decoder, "model.decoder.layer_norm", "decoder.ln");
    }

    /// <summary>One attention: its pre-norm, query/key/value/out projections (the key has no bias in Whisper).</summary>
    private static void Attention(BinaryWriter writer, Initializers graph, string from, string to, string normFrom, string normTo)
    {
        LayerNorm(writer, graph, normFrom, normTo);
        Linear(writer, graph, $"{from}.q_proj", $"{to}.query", bias: true);
        Linear(writer, graph, $"{from}.k_proj", $"{to}.key", bias: false);
        Linear(writer, graph, $"{from}.v_proj", $"{to}.value", bias: true);
        Linear(writer, graph, $"{from}.out_proj", $"{to}.out", bias: true);
    }

    private static void FeedForward(BinaryWriter writer, Initializers graph, string from, string to)
    {
        LayerNorm(writer, graph, $"{from}.final_layer_norm", $"{to}.mlp_ln");
        Linear(writer, graph, $"{from}.fc1", $"{to}.mlp.0", bias: true);
        Linear(writer, graph, $"{from}.fc2", $"{to}.mlp.2", bias: true);
    }

    private static void LayerNorm(BinaryWriter writer, Initializers graph, string from, string to)
    {
        Tensor(writer, $"{to}.weight", graph, $"{from}.weight");
        Tensor(writer, $"{to}.bias", graph, $"{from}.bias");
    }

    /// <summary>A linear layer: the ONNX [in, out] weight transposed to PyTorch's [out, in].</summary>
    private static void Linear(BinaryWriter writer, Initializers graph, string from, string to, bool bias)
    {
        var dims = graph.Dims($"{from}.weight");
        var (inputs, outputs) = ((int)dims[0], (int)dims[1]);
        var transposed = WhisperGraphEmitter.Transposed(graph.Floats($"{from}.weight"), inputs, outputs);
        WriteTensor(writer, $"{to}.weight", [outputs, inputs], transposed, TypeF16);
        if (bias)
        {
            Tensor(writer, $"{to}.bias", graph, $"{from}.bias");
        }
    }

    /// <summary>An initialiser as it is, its dimensions in PyTorch's order.</summary>
    private static void Tensor(BinaryWriter writer, string name, Initializers graph, string from, int type = TypeF32) =>
        WriteTensor(writer, name, graph.Dims(from), graph.Floats(from), type);

    /// <summary>One tensor record; <paramref name="dims"/> outermost first (PyTorch's order), written innermost first as ggml's ne.</summary>
    private static void WriteTensor(BinaryWriter writer, string name, long[] dims, float[] values, int type = TypeF32)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        writer.Write(dims.Length);
        writer.Write(nameBytes.Length);
        writer.Write(type);
        for (var i = dims.Length - 1; i >= 0; i--)
        {
            writer.Write(checked((int)dims[i]));
        }

        writer.Write(nameBytes);
        if (type == TypeF16)
        {
            var halves = new byte[values.Length * 2];
            for (var i = 0; i < values.Length; i++)
            {
                BinaryPrimitives.WriteHalfLittleEndian(halves.AsSpan(i * 2), (Half)values[i]);
            }

            writer.Write(halves);
            return;
        }

        WriteFloats(writer, values);
    }

    private static void WriteFloats(BinaryWriter writer, float[] values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), values[i]);
        }

        writer.Write(bytes);
    }

    /// <summary>The initialisers of one forged graph, read from its external-data file on demand.</summary>
    private sealed class Initializers : IDisposable
    {
        private readonly Dictionary<string, TensorProto> _tensors;
        private readonly FileStream _data;

        public Initializers(string graphPath)
        {
            ModelProto model;
            using (var file = File.OpenRead(graphPath))
            {
                model = ModelProto.Parser.ParseFrom(file);
            }

            _tensors = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
            var location = _tensors.Values.SelectMany(t => t.ExternalData).First(e => e.Key == "location").Value;
            _data = File.OpenRead(Path.Combine(Path.GetDirectoryName(graphPath)!, location));
        }

        public bool Contains(string name) => _tensors.ContainsKey(name);

        public long[] Dims(string name) => [.. Get(name).Dims];

        public float[] Floats(string name)
        {
            var tensor = Get(name);
            if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
            {
                throw new InvalidDataException($"the initialiser {name} is not float32");
            }

            var bytes = Bytes(tensor);
            var values = new float[bytes.Length / sizeof(float)];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(i * sizeof(float)));
            }

            return values;
        }

        public void Dispose() => _data.Dispose();

        private TensorProto Get(string name) =>
            _tensors.TryGetValue(name, out var tensor) ? tensor : throw new InvalidDataException($"the forged graph has no initialiser {name}");

        private byte[] Bytes(TensorProto tensor)
        {
            if (tensor.DataLocation != TensorProto.Types.DataLocation.External)
            {
                return tensor.RawData.ToByteArray();
            }

            var offset = long.Parse(tensor.ExternalData.First(e => e.Key == "offset").Value, CultureInfo.InvariantCulture);
            var length = int.Parse(tensor.ExternalData.First(e => e.Key == "length").Value, CultureInfo.InvariantCulture);
            var bytes = new byte[length];
            _data.Position = offset;
            _data.ReadExactly(bytes);
            return bytes;
        }
    }
}
