using System.Diagnostics;
using Appliance.ModelForge.Onnx;
using Google.Protobuf;
using Onnx;

namespace Appliance.ModelForge.Whisper;

/// <summary>What a Whisper forge wrote.</summary>
/// <param name="Directory">The model folder.</param>
/// <param name="Preset">The shapes used.</param>
/// <param name="Seed">The seed used.</param>
/// <param name="Elapsed">Wall time of the forge.</param>
public sealed record ForgedWhisper(string Directory, WhisperPreset Preset, long Seed, TimeSpan Elapsed)
{
    /// <summary>Total bytes of the files in the folder and its <c>onnx/</c> subfolder.</summary>
    public long TotalBytes => new DirectoryInfo(Directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
}

/// <summary>
/// Forges random-weight Whisper models in the layout of the transformers.js / Optimum exports:
/// <c>config.json</c>, <c>generation_config.json</c>, <c>preprocessor_config.json</c>, <c>tokenizer.json</c>,
/// <c>tokenizer_config.json</c> at the top, and <c>onnx/encoder_model.onnx</c> and <c>onnx/decoder_model_merged.onnx</c>
/// (or the split pair <c>decoder_model.onnx</c> and <c>decoder_with_past_model.onnx</c>), each with external data
/// <c>*.onnx_data</c>, as transformers.js names it.
/// The same preset and seed always give the same bytes.
/// </summary>
public static class WhisperForge
{
    /// <summary>Subfolder of the graphs.</summary>
    public const string OnnxFolder = "onnx";

    /// <summary>File name of the encoder graph.</summary>
    public const string EncoderFileName = "encoder_model.onnx";

    /// <summary>File name of the merged decoder graph.</summary>
    public const string DecoderFileName = "decoder_model_merged.onnx";

    /// <summary>File name of the split layout's first-step decoder.</summary>
    public const string FirstDecoderFileName = "decoder_model.onnx";

    /// <summary>File name of the split layout's decoder for every later step.</summary>
    public const string WithPastDecoderFileName = "decoder_with_past_model.onnx";

    /// <summary>
    /// Writes a model into <paramref name="directory"/> (created if missing; files of the same names are replaced).
    /// The tokenizer is generated (Whisper's special tokens at their real ids, byte tokens, fillers); when
    /// <paramref name="tokenizerSource"/> names a folder, its <c>tokenizer.json</c> and <c>tokenizer_config.json</c>
    /// are copied instead. Throws <see cref="IOException"/> when the folder cannot be written.
    /// </summary>
    /// <param name="preset">The shapes.</param>
    /// <param name="seed">Seed of the random weights.</param>
    /// <param name="directory">The model folder to write.</param>
    /// <param name="tokenizerSource">A folder to copy the tokenizer from, or null for the generated one.</param>
    /// <param name="endOfTextBias">Added to the end-of-text logit: random weights then stop after about
    /// vocabulary / e^bias tokens instead of running to the token limit, as real speech does (benchmarks set it so a
    /// forged transcript has the length of a real one; 0 leaves the weights' own odds).</param>
    /// <param name="logitBias">Added to the logits of the given token ids at every position, to make a model that
    /// behaves in a chosen way whatever it hears: one that judges every window silent (a no-speech bias), one that
    /// loops on a token, or one that prefers a language. Null adds nothing.</param>
    /// <param name="quantization">How the linear layers' weights are stored (see <see cref="WhisperQuantization"/>), each
    /// quantized from the float weights of the same seed.</param>
    /// <param name="splitDecoder">Write the split layout (<c>decoder_model.onnx</c> for the first step,
    /// <c>decoder_with_past_model.onnx</c> for the others) instead of the merged decoder: the same function, without the
    /// merged graph's <c>If</c>, whose outputs copy the cross-attention keys and values on every step.</param>
    public static ForgedWhisper Write(WhisperPreset preset, long seed, string directory, string? tokenizerSource = null, float endOfTextBias = 0, IReadOnlyDictionary<int, float>? logitBias = null, WhisperQuantization quantization = WhisperQuantization.None, bool splitDecoder = false)
    {
        ArgumentNullException.ThrowIfNull(preset);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var stopwatch = Stopwatch.StartNew();
        var onnx = Path.Combine(directory, OnnxFolder);
        Directory.CreateDirectory(onnx);

        var decoders = splitDecoder
            ? new[] { (FirstDecoderFileName, WhisperDecoderGraph.First), (WithPastDecoderFileName, WhisperDecoderGraph.WithPast) }
            : [(DecoderFileName, WhisperDecoderGraph.Merged)];
        WhisperConfigFiles.Write(directory, preset, [EncoderFileName, .. decoders.Select(d => d.Item1)]);
        if (tokenizerSource is null)
        {
            WhisperTokenizerFiles.Write(directory);
        }
        else
        {
            foreach (var name in new[] { "tokenizer.json", "tokenizer_config.json" })
            {
                File.Copy(Path.Combine(tokenizerSource, name), Path.Combine(directory, name), overwrite: true);
            }
        }

        WriteGraph(onnx, EncoderFileName, data => WhisperOnnxModel.Encoder(preset, seed, data, quantization));
        foreach (var (fileName, kind) in decoders)
        {
            WriteGraph(onnx, fileName, data => WhisperOnnxModel.Decoder(preset, seed, data, kind, endOfTextBias, logitBias, quantization));
        }

        return new ForgedWhisper(Path.GetFullPath(directory), preset, seed, stopwatch.Elapsed);
    }

    private static void WriteGraph(string folder, string fileName, Func<ExternalDataFile, ModelProto> build)
    {
        ModelProto model;
        using (var data = new ExternalDataFile(folder, fileName + "_data"))
        {
            model = build(data);
        }

        model.ProducerName = "appliance-modelforge";
        using var file = File.Create(Path.Combine(folder, fileName));
        model.WriteTo(file);
    }
}
