namespace Appliance.ModelForge.Whisper;

/// <summary>
/// The shape of a forged Whisper encoder-decoder. Weight values come from the seed; everything that affects speed
/// (widths, depths, vocabulary, positions) comes from here. The vocabulary is always Whisper's multilingual one
/// (51865 ids) so the special tokens sit at their real ids.
/// </summary>
/// <param name="Name">Preset name as used on the command line.</param>
/// <param name="DModel">Width of the residual stream.</param>
/// <param name="EncoderLayers">Encoder layers.</param>
/// <param name="DecoderLayers">Decoder layers.</param>
/// <param name="AttentionHeads">Heads of every attention (encoder, decoder self and cross).</param>
/// <param name="FfnDim">Width of the feed-forward layers.</param>
/// <param name="NumMelBins">Mel bins of the input features.</param>
/// <param name="MaxSourcePositions">Encoder positions (30 s of audio after the stride-2 convolution: 1500).</param>
/// <param name="MaxTargetPositions">Decoder positions (448 for every released Whisper).</param>
public sealed record WhisperPreset(
    string Name,
    int DModel,
    int EncoderLayers,
    int DecoderLayers,
    int AttentionHeads,
    int FfnDim,
    int NumMelBins,
    int MaxSourcePositions,
    int MaxTargetPositions)
{
    /// <summary>Whisper's multilingual vocabulary size.</summary>
    public const int VocabSize = WhisperVocabulary.Size;

    /// <summary>Width of one attention head.</summary>
    public int HeadSize => DModel / AttentionHeads;

    /// <summary>A few-MB model for tests (the token embedding dominates its size).</summary>
    public static WhisperPreset Tiny { get; } = new("tiny", 32, 2, 2, 2, 64, 80, 1500, 448);

    /// <summary>The shapes of openai/whisper-base, for benchmarks.</summary>
    public static WhisperPreset Base { get; } = new("whisper-base", 512, 6, 6, 8, 2048, 80, 1500, 448);

    /// <summary>Every preset, for the command line.</summary>
    public static IReadOnlyList<WhisperPreset> All { get; } = [Tiny, Base];

    /// <summary>Finds a preset by <see cref="Name"/>.</summary>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out WhisperPreset? preset)
    {
        preset = All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.Ordinal));
        return preset is not null;
    }
}
