using Appliance.Inference;
using Appliance.ModelForge.Llm;
using Appliance.Profiles;

namespace Appliance.Llm.Tests;

[Collection(ForgedModelsGroup.Name)]
public sealed class ModelLoadTests(ForgedModels models)
{
    [Fact]
    public async Task LoadReportsProviderContextAndKvCacheCost()
    {
        await using var service = new LlmService(ForgedModels.Options());
        var status = await service.LoadModelAsync(models.Spec(context: 256));
        Assert.Equal(LlmModelState.Loaded, status.State);
        Assert.Equal("CPUExecutionProvider", status.ExecutionProvider);
        Assert.Equal(256, status.ContextTokens);

        // Tiny preset: 2 layers × 2 KV heads × head 16, float32 cache: 2 × 2 × 2 × 16 × 4 bytes.
        Assert.Equal(512, status.KvCacheBytesPerToken);
        Assert.True(status.WeightBytes > 200_000);
        Assert.Equal(status.WeightBytes + (512 * 256), status.EstimatedBytes);
        Assert.Equal("tiny", service.DefaultModelId);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_model_with_an_int4_embedding_loads_in_fewer_bytes_and_answers_as_its_float_twin(bool tied)
    {
        var preset = LlmPreset.Tiny with { TieWordEmbeddings = tied };
        var name = tied ? "tied" : "untied";
        var floatFolder = Path.Combine(models.Root, name + "-float-embedding");
        var int4Folder = Path.Combine(models.Root, name + "-int4-embedding");
        LlmForge.Write(preset, 42, floatFolder);
        LlmForge.Write(preset, 42, int4Folder, new LlmForgeOptions { Embedding = LlmEmbeddingFormat.Int4 });

        await using var service = new LlmService(ForgedModels.Options());
        var floatStatus = await service.LoadModelAsync(new ModelSpec { Id = "float", Path = floatFolder });
        var int4Status = await service.LoadModelAsync(new ModelSpec { Id = "int4", Path = int4Folder });
        Assert.Equal(LlmModelState.Loaded, int4Status.State);
        Assert.True(int4Status.WeightBytes < floatStatus.WeightBytes, $"int4 {int4Status.WeightBytes} bytes, float {floatStatus.WeightBytes}");

        int[] prompt = [.. Enumerable.Range(0, 40).Select(i => 100 + (i * 37 % 300))];
        var expected = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = "float", PromptTokenIds = prompt, Temperature = 0, MaxTokens = 16, IncludeTokenIds = true }));
        var actual = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = "int4", PromptTokenIds = prompt, Temperature = 0, MaxTokens = 16, IncludeTokenIds = true }));
        Assert.Equal(16, actual.Completed.TokenIds!.Count);
        Assert.Equal(expected.Completed.TokenIds, actual.Completed.TokenIds);
    }

    [Fact]
    public async Task A_model_with_a_pruned_lm_head_answers_as_its_full_twin_with_the_prompt_in_slices_and_from_a_prefix_cache()
    {
        var prunedFolder = Path.Combine(models.Root, "pruned-head");
        LlmForge.Write(LlmPreset.Tiny, 42, prunedFolder, new LlmForgeOptions { PruneLmHead = true });

        await using var service = new LlmService(ForgedModels.Options() with { PrefillSliceTokens = 16 });
        await service.LoadModelAsync(models.Spec("full"));
        var status = await service.LoadModelAsync(new ModelSpec { Id = "pruned", Path = prunedFolder });
        Assert.Equal(LlmModelState.Loaded, status.State);
        await AssertSlicedAndPrefixCachedAnswersMatch(service, "full", service, "pruned");
    }

    [Fact]
    public async Task A_model_with_an_fp16_kv_cache_counts_half_the_cache_and_answers_in_slices_and_from_a_prefix_cache_as_in_one_piece()
    {
        var fp16Folder = Path.Combine(models.Root, "fp16-kv");
        LlmForge.Write(LlmPreset.Tiny, 42, fp16Folder, new LlmForgeOptions { KvCache = LlmKvCachePrecision.Fp16 });

        // The reference takes each prompt in one piece with a fresh generator.
        await using var whole = new LlmService(ForgedModels.Options());
        await using var sliced = new LlmService(ForgedModels.Options() with { PrefillSliceTokens = 16 });
        var fp32 = await sliced.LoadModelAsync(models.Spec("full"));
        var fp16 = await sliced.LoadModelAsync(new ModelSpec { Id = "fp16", Path = fp16Folder });
        await whole.LoadModelAsync(new ModelSpec { Id = "fp16", Path = fp16Folder });
        Assert.Equal(LlmModelState.Loaded, fp16.State);
        Assert.Equal(fp32.KvCacheBytesPerToken / 2, fp16.KvCacheBytesPerToken);
        await AssertSlicedAndPrefixCachedAnswersMatch(whole, "fp16", sliced, "fp16");
    }

    /// <summary>
    /// Two 40-token prompts, the second sharing 30 tokens with the first: <paramref name="model"/> of
    /// <paramref name="service"/> (whose prompt slices the callers set to 16 tokens) answers each from its prefix cache, so
    /// the second from a generator rewound to the shared 30 tokens and given the last 10, with the greedy tokens that
    /// <paramref name="referenceModel"/> of <paramref name="referenceService"/> answers without one.
    /// </summary>
    private static async Task AssertSlicedAndPrefixCachedAnswersMatch(LlmService referenceService, string referenceModel, LlmService service, string model)
    {
        int[] first = [.. Enumerable.Range(0, 40).Select(i => 100 + (i * 37 % 300))];
        int[] second = [.. first.Take(30), .. Enumerable.Range(0, 10).Select(i => 120 + (i * 53 % 300))];
        foreach (var prompt in new[] { first, second })
        {
            var expected = await Transcript.Of(referenceService.GenerateAsync(new LlmRequest { ModelId = referenceModel, PromptTokenIds = prompt, Temperature = 0, MaxTokens = 16, IncludeTokenIds = true }));
            var actual = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = model, PromptTokenIds = prompt, Temperature = 0, MaxTokens = 16, IncludeTokenIds = true, PrefixCacheKey = model }));
            Assert.Equal(16, actual.Completed.TokenIds!.Count);
            Assert.Equal(expected.Completed.TokenIds, actual.Completed.TokenIds);
        }
    }

    [Fact]
    public async Task ContextIsCappedByTheModelsOwnLength()
    {
        await using var service = new LlmService(ForgedModels.Options());
        var status = await service.LoadModelAsync(models.Spec(context: 100_000));
        Assert.Equal(512, status.ContextTokens);
    }

    [Fact]
    public async Task UnknownModelIdIsAnErrorResult()
    {
        await using var service = await models.ServiceWith();
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = "nope", Messages = Prompts.User("Hi") }));
        Assert.Equal(LlmErrorCodes.ModelNotFound, transcript.Error.Code);
    }

    [Fact]
    public async Task NoModelLoadedIsAnErrorResult()
    {
        await using var service = new LlmService(ForgedModels.Options());
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hi") }));
        Assert.Equal(LlmErrorCodes.ModelNotFound, transcript.Error.Code);
    }

    [Fact]
    public async Task MissingFolderFailsToLoadWithTheReason()
    {
        await using var service = new LlmService(ForgedModels.Options());
        var path = Path.Combine(models.Root, "does-not-exist");
        var status = await service.LoadModelAsync(new ModelSpec { Id = "gone", Path = path });
        Assert.Equal(LlmModelState.Failed, status.State);
        Assert.Equal(LlmErrorCodes.ModelLoadFailed, status.Error!.Code);
        Assert.Contains(path, status.Error.Message, StringComparison.Ordinal);
        Assert.Null(service.DefaultModelId);
    }

    [Fact]
    public async Task TruncatedGraphFailsToLoadAndOtherModelsKeepWorking()
    {
        await using var service = await models.ServiceWith();
        var status = await service.LoadModelAsync(new ModelSpec { Id = "corrupt", Path = models.Corrupt });
        Assert.Equal(LlmModelState.Failed, status.State);
        Assert.Equal(LlmErrorCodes.ModelLoadFailed, status.Error!.Code);
        Assert.Contains("truncated", status.Error.Message, StringComparison.Ordinal);
        await AssertServes(service, "tiny");
        Assert.Equal(LlmErrorCodes.ModelNotFound, (await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = "corrupt", Messages = Prompts.User("Hi") }))).Error.Code);
    }

    [Fact]
    public async Task ConfigNamingAnInputTheGraphLacksFailsToLoadAndOtherModelsKeepWorking()
    {
        await using var service = await models.ServiceWith();
        var status = await service.LoadModelAsync(new ModelSpec { Id = "bad-input", Path = models.MissingInput });
        Assert.Equal(LlmModelState.Failed, status.State);
        Assert.Equal(LlmErrorCodes.ModelLoadFailed, status.Error!.Code);
        Assert.Contains("attn_mask_missing", status.Error.Message, StringComparison.Ordinal);
        Assert.Contains("attention_mask", status.Error.Message, StringComparison.Ordinal);
        await AssertServes(service, "tiny");
        Assert.Contains(service.Models, m => m.Id == "bad-input" && m.State == LlmModelState.Failed);
    }

    [Fact]
    public async Task MemoryGuardRefusesAModelOverTheBudget()
    {
        await using var service = new LlmService(ForgedModels.Options() with { MemoryBudgetBytes = 100_000 });
        var status = await service.LoadModelAsync(models.Spec());
        Assert.Equal(LlmModelState.Failed, status.State);
        Assert.Equal(LlmErrorCodes.MemoryBudgetExceeded, status.Error!.Code);
    }

    [Fact]
    public async Task MemoryGuardCountsModelsAlreadyLoaded()
    {
        await using var service = new LlmService(ForgedModels.Options() with { MemoryBudgetBytes = 700_000, ResidentMemoryBytes = static () => 0 });
        Assert.Equal(LlmModelState.Loaded, (await service.LoadModelAsync(models.Spec("a", context: 64))).State);
        var second = await service.LoadModelAsync(models.Spec("b", context: 512));
        Assert.Equal(LlmErrorCodes.MemoryBudgetExceeded, second.Error?.Code);
    }

    [Fact]
    public async Task RequestsAreRefusedWhileResidentMemoryIsAboveTheBudget()
    {
        long resident = 0;
        await using var service = await models.ServiceWith(options: ForgedModels.Options() with { MemoryBudgetBytes = 1L << 30, ResidentMemoryBytes = () => Volatile.Read(ref resident) });
        Volatile.Write(ref resident, 2L << 30);
        var refused = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hi") }));
        Assert.Equal(LlmErrorCodes.MemoryPressure, refused.Error.Code);
        Volatile.Write(ref resident, 0);
        await AssertServes(service, "tiny");
    }

    [Fact]
    public async Task ModelsLoadUnloadAndSwitchAtRunTime()
    {
        await using var service = new LlmService(ForgedModels.Options());
        var changes = new List<(string, LlmModelState)>();
        service.ModelStatusChanged += (_, status) =>
        {
            lock (changes)
            {
                changes.Add((status.Id, status.State));
            }
        };

        await service.LoadModelAsync(models.Spec("voice", context: 128));
        await service.LoadModelAsync(models.Spec("summary", context: 256));
        Assert.Equal("voice", service.DefaultModelId);
        await AssertServes(service, "summary");
        await AssertServes(service, null, expectedModel: "voice");

        Assert.True(service.SetDefaultModel("summary"));
        await AssertServes(service, null, expectedModel: "summary");

        Assert.True(service.UnloadModel("voice"));
        Assert.False(service.UnloadModel("voice"));
        Assert.False(service.SetDefaultModel("voice"));
        var gone = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = "voice", Messages = Prompts.User("Hi") }));
        Assert.Equal(LlmErrorCodes.ModelNotFound, gone.Error.Code);
        Assert.Contains("unloaded", gone.Error.Message, StringComparison.Ordinal);

        // Loading again under an id replaces the model there.
        var reloaded = await service.LoadModelAsync(models.Spec("summary", context: 64));
        Assert.Equal(64, reloaded.ContextTokens);
        await AssertServes(service, "summary");

        Assert.Equal(
            [("voice", LlmModelState.Unloaded), ("summary", LlmModelState.Loaded)],
            service.Models.Select(m => (m.Id, m.State)).OrderByDescending(m => m.Id));
        Assert.Equal(
            [
                ("voice", LlmModelState.Loading), ("voice", LlmModelState.Loaded),
                ("summary", LlmModelState.Loading), ("summary", LlmModelState.Loaded),
                ("voice", LlmModelState.Unloaded),
                ("summary", LlmModelState.Loading), ("summary", LlmModelState.Loaded),
            ],
            changes);
    }

    [Fact]
    public async Task AProviderThatFailsToCreateTheModelFallsBackDownTheChain()
    {
        var options = ForgedModels.Options() with
        {
            Inference = InferenceSettings.Cpu(1) with
            {
                ExecutionProviders =
                [
                    new ExecutionProviderSpec { Name = "QNNExecutionProvider", Options = new Dictionary<string, string> { ["backend_path"] = "libQnnHtp.so" } },
                    new ExecutionProviderSpec { Name = "CPUExecutionProvider" },
                ],

                // Pretend the runtime offers QNN, so that creating the model with it is tried and fails.
                InstalledProviders = static () => ["QNNExecutionProvider", "CPUExecutionProvider"],
            },
        };
        await using var service = new LlmService(options);
        var status = await service.LoadModelAsync(models.Spec());
        Assert.Equal(LlmModelState.Loaded, status.State);
        Assert.Equal("CPUExecutionProvider", status.ExecutionProvider);
        Assert.StartsWith("QNNExecutionProvider: ", Assert.Single(status.ProviderFallbacks), StringComparison.Ordinal);
        await AssertServes(service, "tiny");
    }

    [Fact]
    public async Task WithOnnxRuntimesCpuArenaOffTheModelLoadsAndAnswersAsWithIt()
    {
        async Task<string> AnswerAsync(bool cpuArena)
        {
            await using var service = await models.ServiceWith(options: ForgedModels.Options() with { Inference = InferenceSettings.Cpu(1) with { CpuMemoryArena = cpuArena } });
            var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Is the fridge door open?"), Temperature = 0, MaxTokens = 12 }));
            Assert.InRange(transcript.Completed.Usage.CompletionTokens, 1, 12);
            return transcript.Answer + "|" + transcript.Reasoning;
        }

        Assert.Equal(await AnswerAsync(cpuArena: true), await AnswerAsync(cpuArena: false));
    }

    private static async Task AssertServes(LlmService service, string? modelId, string? expectedModel = null)
    {
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { ModelId = modelId, Messages = Prompts.User("Hi"), Temperature = 0, MaxTokens = 4 }));
        Assert.Equal(expectedModel ?? modelId, Assert.IsType<LlmStarted>(transcript.Events[0]).ModelId);
        Assert.InRange(transcript.Completed.Usage.CompletionTokens, 1, 4);
    }
}
