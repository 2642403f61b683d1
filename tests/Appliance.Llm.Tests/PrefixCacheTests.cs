namespace Appliance.Llm.Tests;

/// <summary>
/// Requests with a prefix-cache key reuse the key-value cache of the prompt they share with the one before: only the
/// rest is processed, and the tokens generated are exactly those of a request that processes the whole prompt.
/// </summary>
[Collection(ForgedModelsGroup.Name)]
public sealed class PrefixCacheTests(ForgedModels models)
{
    // A constant prefix (instructions) of 300 tokens, then what differs (the utterance).
    private static readonly int[] Prefix = [.. Enumerable.Range(0, 300).Select(i => 100 + (i * 53 % 250))];

    private static int[] Prompt(params int[] suffix) => [.. Prefix, .. suffix];

    [Fact]
    public async Task A_second_request_with_the_key_processes_only_what_its_prompt_does_not_share_and_answers_the_same()
    {
        await using var service = await models.ServiceWith();
        int[][] suffixes = [[104, 105, 173], [249, 330, 120, 121], [249, 330, 120, 99]];
        var fresh = new List<IReadOnlyList<int>>();
        foreach (var suffix in suffixes)
        {
            fresh.Add((await Transcript.Of(service.GenerateAsync(new LlmRequest { PromptTokenIds = Prompt(suffix), Temperature = 0, MaxTokens = 16, IncludeTokenIds = true }))).Completed.TokenIds!);
        }

        var cached = new List<LlmCompleted>();
        foreach (var suffix in suffixes)
        {
            cached.Add((await Transcript.Of(service.GenerateAsync(new LlmRequest { PromptTokenIds = Prompt(suffix), Temperature = 0, MaxTokens = 16, IncludeTokenIds = true, PrefixCacheKey = "voice" }))).Completed);
        }

        Assert.Equal(fresh, cached.Select(c => c.TokenIds!));
        Assert.Equal([0, 300, 303], cached.Select(c => c.Usage.CachedPromptTokens)); // the third shares three more with the second
        Assert.NotEqual(fresh[0], fresh[1]); // the suffixes lead to different answers, so a stale cache would show
    }

    [Fact]
    public async Task A_request_with_other_sampling_settings_or_guidance_does_not_take_the_kept_generator()
    {
        await using var service = await models.ServiceWith();
        const string Schema = """{"type":"object","properties":{"intent":{"type":"string","enum":["mute","not_understood"]}},"required":["intent"],"additionalProperties":false}""";

        var first = await Transcript.Of(service.GenerateAsync(new LlmRequest { PromptTokenIds = Prompt(104), Temperature = 0, MaxTokens = 16, PrefixCacheKey = "k" }));
        var guided = await Transcript.Of(service.GenerateAsync(new LlmRequest { PromptTokenIds = Prompt(105), Temperature = 0, MaxTokens = 32, AnswerJsonSchema = Schema, PrefixCacheKey = "k" }));
        var guidedAgain = await Transcript.Of(service.GenerateAsync(new LlmRequest { PromptTokenIds = Prompt(106), Temperature = 0, MaxTokens = 32, AnswerJsonSchema = Schema, PrefixCacheKey = "k" }));

        Assert.Equal(0, first.Completed.Usage.CachedPromptTokens);
        Assert.Equal(0, guided.Completed.Usage.CachedPromptTokens);
        Assert.Equal(300, guidedAgain.Completed.Usage.CachedPromptTokens);
        Assert.StartsWith("{\"intent\":\"", guidedAgain.Answer, StringComparison.Ordinal); // the grammar starts afresh after the rewind
        Assert.EndsWith("\"}", guidedAgain.Answer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cancelled_request_keeps_nothing()
    {
        await using var service = await models.ServiceWith();
        using var cancel = new CancellationTokenSource();
        var request = new LlmRequest { PromptTokenIds = Prompt(104), Temperature = 0, MaxTokens = 200, PrefixCacheKey = "c" };

        var events = new List<LlmEvent>();
        await foreach (var e in service.GenerateAsync(request, cancel.Token))
        {
            events.Add(e);
            if (e is LlmAnswerDelta)
            {
                await cancel.CancelAsync();
            }
        }

        var after = await Transcript.Of(service.GenerateAsync(request with { Id = Guid.NewGuid().ToString("N") }));
        Assert.Equal(LlmFinishReason.Cancelled, Assert.IsType<LlmCompleted>(events[^1]).Reason);
        Assert.Equal(0, after.Completed.Usage.CachedPromptTokens);
    }
}
