using Appliance.Profiles;

namespace Appliance.Llm.Tests;

/// <summary>
/// Checks against the upstream ONNX Runtime GenAI test model and its published golden ids (GOLDEN.md). The shared
/// folder is not part of the repository: it is found through APPLIANCE_SHARED_DIR, or ../shared beside the
/// repository root, and these tests fail when it is missing. Run them with <c>dotnet test --filter Category=Shared</c>.
/// </summary>
[Trait("Category", "Shared")]
public sealed class SharedGoldenTests
{
    private static readonly string s_modelDirectory = Path.Combine(SharedDirectory(), "models", "tiny-random-gpt2-genai");

    // GOLDEN.md, greedy search, max_length 10: each row of the batch of 2, run as its own sequence.
    [Theory]
    [InlineData(new[] { 0, 0, 195, 731 }, new[] { 731, 114, 114, 114, 114, 114 })]
    [InlineData(new[] { 0, 0, 0, 52 }, new[] { 204, 204, 204, 204, 204, 204 })]
    public async Task GreedyGenerationReproducesTheGoldenIds(int[] prompt, int[] expected)
    {
        await using var service = await Gpt2Service();
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest
        {
            PromptTokenIds = prompt,
            Temperature = 0,
            MaxTokens = 10 - prompt.Length,
            IncludeTokenIds = true,
        }));
        Assert.Equal(expected, transcript.Completed.TokenIds);
        Assert.Equal(LlmFinishReason.MaxTokens, transcript.Completed.Reason);
    }

    [Fact]
    public async Task ModelWithoutAChatTemplateAnswersPlainly()
    {
        await using var service = await Gpt2Service();

        // Words whose GPT-2 ids all fall inside this model's 1000-token vocabulary.
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest
        {
            Messages = Prompts.User("I is a the, of. and to in"),
            Temperature = 0,
            MaxTokens = 8,
            Reasoning = ReasoningMode.Separate,
        }));
        Assert.Equal(10, transcript.Completed.Usage.PromptTokens);
        Assert.Equal(0, transcript.Completed.Usage.ReasoningTokens);
        Assert.Empty(transcript.Events.OfType<LlmReasoningDelta>());
        Assert.NotEmpty(transcript.Answer);
    }

    [Fact]
    public async Task PromptIdsOutsideTheGraphsVocabularyAreRefusedAsAValue()
    {
        await using var service = await Gpt2Service();

        // GOLDEN.md: the tokenizer (full GPT-2) gives [15496, 995, 11, 262, 25772, 318, 4692]; the graph has 1000 rows.
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hello world, the fridge is cold") }));
        Assert.Equal(LlmErrorCodes.InvalidRequest, transcript.Error.Code);
        Assert.Contains("prompt token 15496 (position 0 of 7)", transcript.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoadReadsTheGpt2ConfigShapes()
    {
        await using var service = await Gpt2Service();
        var status = Assert.Single(service.Models);

        // 5 layers × 4 heads × head 8, float32 past: 2 × 5 × 4 × 8 × 4 bytes.
        Assert.Equal(1280, status.KvCacheBytesPerToken);
        Assert.Equal(512, status.ContextTokens);
    }

    private static async Task<LlmService> Gpt2Service()
    {
        Assert.True(Directory.Exists(s_modelDirectory), $"the shared model folder {s_modelDirectory} is missing (set APPLIANCE_SHARED_DIR)");
        var service = new LlmService(ForgedModels.Options());
        var status = await service.LoadModelAsync(new ModelSpec { Id = "gpt2", Path = s_modelDirectory });
        Assert.True(status.State == LlmModelState.Loaded, status.Error?.ToString());
        return service;
    }

    private static string SharedDirectory()
    {
        if (Environment.GetEnvironmentVariable("APPLIANCE_SHARED_DIR") is { Length: > 0 } configured)
        {
            return Path.GetFullPath(configured);
        }

        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Appliance.sln")))
        {
            directory = directory.Parent;
        }

        return Path.GetFullPath(Path.Combine(directory?.FullName ?? Directory.GetCurrentDirectory(), "..", "shared"));
    }
}
