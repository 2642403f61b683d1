using Appliance.ModelForge.Llm;
using Microsoft.ML.OnnxRuntimeGenAI;
using Xunit.Abstractions;

namespace Appliance.ModelForge.Tests;

[Collection(ForgedTinyModelGroup.Name)]
public sealed class GenAiLoadTests(ForgedTinyModel model, ITestOutputHelper output)
{
    [Fact]
    public void TinyModelLoadsAndGeneratesGreedily()
    {
        using (var genAiModel = new Model(model.Directory))
        {
            Assert.Equal("qwen2", genAiModel.GetModelType());
        }

        var (promptIds, generated) = GenAiGreedy.Generate(model.Directory, "Hello, how are you?", 16);
        output.WriteLine($"prompt [{string.Join(", ", promptIds)}] generated [{string.Join(", ", generated)}]");
        Assert.Equal(16, generated.Length);
        Assert.All(generated, id => Assert.InRange(id, 0, LlmPreset.Tiny.VocabSize - 1));
        Assert.Equal(generated, GenAiGreedy.Generate(model.Directory, "Hello, how are you?", 16).GeneratedIds);
    }

    [Theory]
    [InlineData("Hello, how are you?")]
    [InlineData("The fridge door is open: 4 minutes, 21.5 C!")]
    [InlineData("  spaces\tand\nnew lines  ")]
    public void TokenizerRoundTripsText(string text)
    {
        using var genAiModel = new Model(model.Directory);
        using var tokenizer = new Tokenizer(genAiModel);
        using var sequences = tokenizer.Encode(text);
        Assert.Equal(text, tokenizer.Decode(sequences[0]));
    }

    [Theory]
    [InlineData(R1Tokenizer.BeginOfSentence)]
    [InlineData(R1Tokenizer.EndOfSentence)]
    [InlineData(R1Tokenizer.User)]
    [InlineData(R1Tokenizer.Assistant)]
    [InlineData(R1Tokenizer.ThinkStart)]
    [InlineData(R1Tokenizer.ThinkEnd)]
    public void SpecialTokenEncodesToOneId(string special)
    {
        using var genAiModel = new Model(model.Directory);
        using var tokenizer = new Tokenizer(genAiModel);
        using var sequences = tokenizer.Encode(special);
        var id = Assert.Single(sequences[0].ToArray());
        Assert.Equal(R1Tokenizer.Create(LlmPreset.Tiny).IdOf(special), id);
        Assert.InRange(id, 0, LlmPreset.Tiny.VocabSize - 1);
    }

    [Fact]
    public void TokenizerReportsBosAndEos()
    {
        using var genAiModel = new Model(model.Directory);
        using var tokenizer = new Tokenizer(genAiModel);
        Assert.Equal(model.Forged.BosTokenId, tokenizer.GetBosTokenId());
        Assert.Contains(model.Forged.EosTokenId, tokenizer.GetEosTokenIds().ToArray());
    }

    [Fact]
    public void ChatTemplateEndsWithAssistantThink()
    {
        using var genAiModel = new Model(model.Directory);
        using var tokenizer = new Tokenizer(genAiModel);
        const string Messages = """[{"role": "user", "content": "Turn on the lights."}]""";
        var text = tokenizer.ApplyChatTemplate(null, Messages, null, true);
        Assert.Equal($"{R1Tokenizer.BeginOfSentence}{R1Tokenizer.User}Turn on the lights.{R1Tokenizer.Assistant}<think>\n", text);
        Assert.EndsWith("<｜Assistant｜><think>\n", text, StringComparison.Ordinal);
    }
}
