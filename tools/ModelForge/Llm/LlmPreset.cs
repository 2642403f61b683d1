namespace Appliance.ModelForge.Llm;

/// <summary>
/// The shape of a forged Qwen2-architecture decoder (the architecture of DeepSeek-R1-Distill-Qwen) and of its
/// byte-level BPE tokenizer. Weight values come from the seed; everything that affects speed comes from here.
/// </summary>
/// <param name="Name">Preset name as used on the command line.</param>
/// <param name="HiddenSize">Width of the residual stream.</param>
/// <param name="NumHiddenLayers">Decoder layers.</param>
/// <param name="NumAttentionHeads">Query heads.</param>
/// <param name="NumKeyValueHeads">Key/value heads (grouped-query attention).</param>
/// <param name="HeadSize">Width of one head.</param>
/// <param name="IntermediateSize">Width of the SwiGLU MLP.</param>
/// <param name="VocabSize">Rows of the embedding and of the LM head; also the token count of the tokenizer.</param>
/// <param name="ContextLength">Maximum sequence length (rotary cache length, search max_length).</param>
/// <param name="RopeTheta">Rotary embedding base.</param>
/// <param name="RmsNormEpsilon">RMSNorm epsilon.</param>
/// <param name="BpeMergeCount">Merges learned on the built-in corpus; the rest of the vocabulary is padding.</param>
/// <param name="SpecialTokenBaseId">Id of <c>&lt;｜end▁of▁sentence｜&gt;</c>; the other special tokens follow it.</param>
/// <param name="TieWordEmbeddings">
/// The LM head is the embedding table (<c>tie_word_embeddings</c> in the Hugging Face config), as in Qwen2.5-0.5B;
/// the DeepSeek-R1 distills have their own LM head.
/// </param>
public sealed record LlmPreset(
    string Name,
    int HiddenSize,
    int NumHiddenLayers,
    int NumAttentionHeads,
    int NumKeyValueHeads,
    int HeadSize,
    int IntermediateSize,
    int VocabSize,
    int ContextLength,
    double RopeTheta,
    double RmsNormEpsilon,
    int BpeMergeCount,
    int SpecialTokenBaseId,
    bool TieWordEmbeddings = false)
{
    /// <summary>A few-MB model for tests: loads in well under a second.</summary>
    public static LlmPreset Tiny { get; } = new(
        Name: "tiny",
        HiddenSize: 64,
        NumHiddenLayers: 2,
        NumAttentionHeads: 4,
        NumKeyValueHeads: 2,
        HeadSize: 16,
        IntermediateSize: 128,
        VocabSize: 512,
        ContextLength: 512,
        RopeTheta: 10000,
        RmsNormEpsilon: 1e-6,
        BpeMergeCount: 248,
        SpecialTokenBaseId: 504);

    /// <summary>
    /// The shapes of DeepSeek-R1-Distill-Qwen-1.5B at int4 (special tokens at their real ids), for benchmarks.
    /// </summary>
    public static LlmPreset R1DistillQwen15B { get; } = new(
        Name: "r1-distill-qwen-1.5b",
        HiddenSize: 1536,
        NumHiddenLayers: 28,
        NumAttentionHeads: 12,
        NumKeyValueHeads: 2,
        HeadSize: 128,
        IntermediateSize: 8960,
        VocabSize: 151936,
        ContextLength: 4096,
        RopeTheta: 10000,
        RmsNormEpsilon: 1e-6,
        BpeMergeCount: 2000,
        SpecialTokenBaseId: 151643);

    /// <summary>
    /// The shapes of Qwen2.5-0.5B-Instruct at int4 (the small non-reasoning model voice commands use; special tokens
    /// at their real ids, context capped at 4096), for the voice benchmark.
    /// </summary>
    public static LlmPreset Qwen25Instruct05B { get; } = new(
        Name: "qwen2.5-0.5b",
        HiddenSize: 896,
        NumHiddenLayers: 24,
        NumAttentionHeads: 14,
        NumKeyValueHeads: 2,
        HeadSize: 64,
        IntermediateSize: 4864,
        VocabSize: 151936,
        ContextLength: 4096,
        RopeTheta: 1000000,
        RmsNormEpsilon: 1e-6,
        BpeMergeCount: 2000,
        SpecialTokenBaseId: 151643,
        TieWordEmbeddings: true);

    /// <summary>Every preset, by name.</summary>
    public static IReadOnlyList<LlmPreset> All { get; } = [Tiny, R1DistillQwen15B, Qwen25Instruct05B];

    /// <summary>Output width of the fused q/k/v projection.</summary>
    public int QkvSize => (NumAttentionHeads + (2 * NumKeyValueHeads)) * HeadSize;

    /// <summary>Finds a preset by its <see cref="Name"/> (case-insensitive).</summary>
    public static bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LlmPreset? preset)
    {
        preset = All.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        return preset is not null;
    }
}
