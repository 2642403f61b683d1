using Appliance.Inference;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Appliance.Speech.Whisper;

/// <summary>What a Whisper folder declares, read from its JSON files and its sessions.</summary>
/// <param name="MelBins">Mel bins of the encoder input (preprocessor <c>feature_size</c>).</param>
/// <param name="DecoderLayers">Decoder layers (counted from the decoder's <c>past_key_values.*</c> inputs).</param>
/// <param name="MaxTargetPositions">Longest decoder sequence (prompt included).</param>
/// <param name="DecoderLayout">"merged" (<c>decoder_model_merged.onnx</c>) or "split" (<c>decoder_model.onnx</c> + <c>decoder_with_past_model.onnx</c>).</param>
/// <param name="ExecutionProvider">The provider the sessions run on.</param>
/// <param name="ProviderFallbacks">Providers of the chain passed over, with why.</param>
public sealed record WhisperModelInfo(int MelBins, int DecoderLayers, int MaxTargetPositions, string DecoderLayout, string ExecutionProvider, IReadOnlyList<string> ProviderFallbacks);

/// <summary>Self-attention keys and values of one decoder sequence, one pair per layer. Owned; dispose once.</summary>
internal sealed class KeyValueCache(OrtValue[] keys, OrtValue[] values) : IDisposable
{
    public OrtValue[] Keys { get; } = keys;

    public OrtValue[] Values { get; } = values;

    public void Dispose()
    {
        foreach (var v in Keys.Concat(Values))
        {
            v.Dispose();
        }
    }
}

/// <summary>
/// The sessions of a Whisper export in the transformers.js / Optimum layout and one decoder step over them. Graph
/// files are looked up in <c>onnx/</c> and then beside <c>config.json</c>; input and output names and the cache shape
/// come from the sessions. Owns its sessions; dispose it. Steps may run from one thread at a time per cache.
/// </summary>
internal sealed class WhisperModel : IDisposable
{
    private readonly InferenceSession _encoder;
    private readonly InferenceSession _firstDecoder;
    private readonly InferenceSession _nextDecoder;
    private readonly bool _merged;
    private readonly long[] _cacheShape;

    private WhisperModel(InferenceSession encoder, InferenceSession first, InferenceSession next, bool merged, WhisperGenerationConfig generation, WhisperTokenizer tokenizer, WhisperModelInfo info)
    {
        _encoder = encoder;
        _firstDecoder = first;
        _nextDecoder = next;
        _merged = merged;
        Generation = generation;
        Tokenizer = tokenizer;
        Info = info;
        var dims = first.InputMetadata.TryGetValue("past_key_values.0.decoder.key", out var meta) ? meta.Dimensions : next.InputMetadata["past_key_values.0.decoder.key"].Dimensions;
        _cacheShape = [1, dims[1], 0, dims[3]];
    }

    public WhisperGenerationConfig Generation { get; }

    public WhisperTokenizer Tokenizer { get; }

    public WhisperModelInfo Info { get; }

    public static SpeechResult<WhisperModel> Open(string folder, InferenceSettings options)
    {
        if (!File.Exists(Path.Combine(folder, "config.json")))
        {
            return SpeechResult.Failure<WhisperModel>(SpeechErrorCode.ModelMissing, $"{folder} holds no config.json: not a Whisper model folder.");
        }

        var tokenizer = WhisperTokenizer.Load(Path.Combine(folder, "tokenizer.json"));
        if (!tokenizer.IsSuccess)
        {
            return SpeechResult.Failure<WhisperModel>(tokenizer.Error);
        }

        var generation = WhisperGenerationConfig.Read(folder, tokenizer.Value);
        if (!generation.IsSuccess)
        {
            return SpeechResult.Failure<WhisperModel>(generation.Error);
        }

        var graphs = Directory.Exists(Path.Combine(folder, "onnx")) ? Path.Combine(folder, "onnx") : folder;
        var merged = File.Exists(Path.Combine(graphs, "decoder_model_merged.onnx"));
        string[] files = merged ? ["encoder_model.onnx", "decoder_model_merged.onnx"] : ["encoder_model.onnx", "decoder_model.onnx", "decoder_with_past_model.onnx"];
        var sessions = new List<OpenedSession>();
        foreach (var file in files)
        {
            var opened = SpeechSessions.Open(Path.Combine(graphs, file), options);
            if (!opened.IsSuccess)
            {
                sessions.ForEach(s => s.Session.Dispose());
                return SpeechResult.Failure<WhisperModel>(opened.Error);
            }

            sessions.Add(opened.Value);
        }

        var first = sessions[1].Session;
        var next = merged ? first : sessions[2].Session;
        var layers = next.InputMetadata.Keys.Count(k => k.StartsWith("past_key_values.", StringComparison.Ordinal) && k.EndsWith(".decoder.key", StringComparison.Ordinal));
        var encoderInput = sessions[0].Session.InputMetadata.Values.First().Dimensions;
        if (layers == 0 || !next.OutputMetadata.ContainsKey("logits") || encoderInput.Length != 3)
        {
            sessions.ForEach(s => s.Session.Dispose());
            return SpeechResult.Failure<WhisperModel>(SpeechErrorCode.ModelInvalid, $"{graphs} does not hold a Whisper encoder and a decoder with key/value cache inputs.");
        }

        var info = new WhisperModelInfo(
            encoderInput[1] > 0 ? encoderInput[1] : generation.Value.MelBins,
            layers,
            generation.Value.MaxTargetPositions,
            merged ? "merged" : "split",
            sessions[0].ExecutionProvider,
            sessions[0].Fallbacks);
        return SpeechResult.Success(new WhisperModel(sessions[0].Session, first, next, merged, generation.Value, tokenizer.Value, info));
    }

    /// <summary>
    /// Runs the encoder on one window of features [mel × 3000]. Returns the encoder's own output, in ONNX Runtime's
    /// memory (no managed copy); the caller owns and disposes it. <paramref name="features"/> is read during the call only.
    /// </summary>
    public OrtValue Encode(float[] features, RunOptions runOptions)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(features, [1, Info.MelBins, features.Length / Info.MelBins]);
        var outputs = _encoder.Run(runOptions, [_encoder.InputNames[0]], [input], [_encoder.OutputNames[0]]);
        return outputs[0]; // the only output asked for: nothing else in the collection to dispose
    }

    /// <summary>
    /// One decoder step: <paramref name="inputIds"/> after the sequence held by <paramref name="past"/> (null on the first
    /// step, when the cross-attention cache is computed and returned in <paramref name="crossCache"/>). Returns the
    /// logits of the last position and the new self-attention cache (owned by the caller). When
    /// <paramref name="positionLogits"/> is given, the logits of input position <paramref name="position"/> are copied
    /// into it too (the no-speech probability is read at <c>&lt;|startoftranscript|&gt;</c>). The logits go into
    /// <paramref name="logits"/> when it has the graph's vocabulary size (a decode passes the array the previous step
    /// returned, and so allocates none per step); otherwise into a new array.
    /// </summary>
    public (float[] Logits, KeyValueCache Cache) Step(long[] inputIds, OrtValue encoderHidden, KeyValueCache? past, ref KeyValueCache? crossCache, RunOptions runOptions, float[]? logits = null, float[]? positionLogits = null, int position = 0)
    {
        var session = past is null ? _firstDecoder : _nextDecoder;
        var disposables = new List<OrtValue>();
        try
        {
            var names = new List<string>();
            var values = new List<OrtValue>();
            foreach (var name in session.InputNames)
            {
                names.Add(name);
                values.Add(Input(name, inputIds, encoderHidden, past, crossCache, disposables));
            }

            var layers = Info.DecoderLayers;
            var outputNames = new List<string> { "logits" };
            for (var i = 0; i < layers; i++)
            {
                outputNames.Add($"present.{i}.decoder.key");
                outputNames.Add($"present.{i}.decoder.value");
            }

            var wantCross = crossCache is null;
            if (wantCross)
            {
                for (var i = 0; i < layers; i++)
                {
                    outputNames.Add($"present.{i}.encoder.key");
                    outputNames.Add($"present.{i}.encoder.value");
                }
            }

            var outputs = session.Run(runOptions, names, values, outputNames);
            var logitsValue = outputs[0];
            var shape = logitsValue.GetTensorTypeAndShape().Shape;
            var vocab = (int)shape[2];
            var all = logitsValue.GetTensorDataAsSpan<float>();
            if (logits?.Length != vocab)
            {
                logits = new float[vocab];
            }

            all[^vocab..].CopyTo(logits);
            if (positionLogits is not null)
            {
                // Sized by the tokenizer: ids the graph lacks get no probability; a graph that returns the last
                // position only gives none at all.
                positionLogits.AsSpan().Fill(float.NegativeInfinity);
                if (shape[1] > position)
                {
                    var count = Math.Min(vocab, positionLogits.Length);
                    all.Slice(position * vocab, count).CopyTo(positionLogits);
                }
            }

            logitsValue.Dispose();
            var keys = new OrtValue[layers];
            var vals = new OrtValue[layers];
            for (var i = 0; i < layers; i++)
            {
                keys[i] = outputs[1 + (2 * i)];
                vals[i] = outputs[2 + (2 * i)];
            }

            if (wantCross)
            {
                var crossKeys = new OrtValue[layers];
                var crossValues = new OrtValue[layers];
                for (var i = 0; i < layers; i++)
                {
                    crossKeys[i] = outputs[1 + (2 * layers) + (2 * i)];
                    crossValues[i] = outputs[2 + (2 * layers) + (2 * i)];
                }

                crossCache = new KeyValueCache(crossKeys, crossValues);
            }

            return (logits, new KeyValueCache(keys, vals));
        }
        finally
        {
            disposables.ForEach(d => d.Dispose());
        }
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _firstDecoder.Dispose();
        if (!_merged)
        {
            _nextDecoder.Dispose();
        }
    }

    private OrtValue Input(string name, long[] inputIds, OrtValue encoderHidden, KeyValueCache? past, KeyValueCache? cross, List<OrtValue> disposables)
    {
        OrtValue Owned(OrtValue value)
        {
            disposables.Add(value);
            return value;
        }

        switch (name)
        {
            case "input_ids":
                return Owned(OrtValue.CreateTensorValueFromMemory(inputIds, [1, inputIds.Length]));
            case "encoder_hidden_states":
                return encoderHidden;
            case "use_cache_branch":
                return Owned(OrtValue.CreateTensorValueFromMemory(new[] { past is not null }, [1]));
        }

        var parts = name.Split('.');
        if (parts.Length == 4 && parts[0] == "past_key_values" && int.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var layer))
        {
            var cache = parts[2] == "encoder" ? (past is null ? null : cross) : past;
            return cache is null
                ? Owned(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, _cacheShape))
                : parts[3] == "key" ? cache.Keys[layer] : cache.Values[layer];
        }

        throw new InvalidOperationException($"The Whisper decoder asks for an input this runtime does not know: {name}.");
    }
}

/// <summary>The decoding conventions from <c>generation_config.json</c> and <c>config.json</c>.</summary>
internal sealed record WhisperGenerationConfig(
    int MelBins,
    int MaxTargetPositions,
    bool IsMultilingual,
    IReadOnlyList<int> SuppressTokens,
    IReadOnlyList<int> BeginSuppressTokens,
    int MaxInitialTimestampIndex)
{
    public static SpeechResult<WhisperGenerationConfig> Read(string folder, WhisperTokenizer tokenizer)
    {
        try
        {
            using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "config.json")));
            var generationPath = Path.Combine(folder, "generation_config.json");
            using var generation = JsonDocument.Parse(File.Exists(generationPath) ? File.ReadAllText(generationPath) : "{}");
            var c = config.RootElement;
            var g = generation.RootElement;
            int Int(JsonElement e, string name, int fallback) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32() : fallback;
            int[] Ints(string name) => g.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? [.. v.EnumerateArray().Select(x => x.GetInt32())] : [];
            var preprocessorPath = Path.Combine(folder, "preprocessor_config.json");
            var melBins = Int(c, "num_mel_bins", 80);
            if (File.Exists(preprocessorPath))
            {
                using var preprocessor = JsonDocument.Parse(File.ReadAllText(preprocessorPath));
                melBins = Int(preprocessor.RootElement, "feature_size", melBins);
            }

            return SpeechResult.Success(new WhisperGenerationConfig(
                melBins,
                Int(g, "max_length", Int(c, "max_target_positions", 448)),
                !g.TryGetProperty("is_multilingual", out var multilingual) || multilingual.ValueKind != JsonValueKind.False,
                Ints("suppress_tokens"),
                g.TryGetProperty("begin_suppress_tokens", out _) ? Ints("begin_suppress_tokens") : [220, tokenizer.EndOfText],
                Int(g, "max_initial_timestamp_index", 50)));
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or IOException)
        {
            return SpeechResult.Failure<WhisperGenerationConfig>(SpeechErrorCode.ModelInvalid, $"{folder}: config.json or generation_config.json cannot be read: {ex.Message}");
        }
    }
}
