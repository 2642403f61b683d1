using Microsoft.Extensions.AI;

namespace Appliance.Llm.Tests;

[Collection(ForgedModelsGroup.Name)]
public sealed class ChatClientTests(ForgedModels models)
{
    [Fact]
    public async Task ResponseRoundTripCarriesTextUsageAndFinishReason()
    {
        await using var service = await models.ServiceWith(models.Spec(thinkingBudget: 4));
        using var client = new LlmChatClient(service);
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 20, Reasoning = new ReasoningOptions { Output = ReasoningOutput.None } };
        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, "Turn on the lights.")], options);

        Assert.Equal(ChatRole.Assistant, response.Messages.Single().Role);
        Assert.DoesNotContain("think>", response.Text, StringComparison.Ordinal);
        Assert.Empty(response.Messages.SelectMany(m => m.Contents).OfType<TextReasoningContent>());
        Assert.NotNull(response.Usage);
        Assert.True(response.Usage.InputTokenCount > 5);
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 1, 20);
        Assert.Equal(4, response.Usage.ReasoningTokenCount);
        Assert.NotNull(response.FinishReason);

        var direct = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Turn on the lights."), Temperature = 0, MaxTokens = 20 }));
        Assert.Equal(direct.Answer, response.Text);
    }

    [Fact]
    public async Task StreamingSurfacesReasoningAsTextReasoningContent()
    {
        await using var service = await models.ServiceWith(models.Spec(thinkingBudget: 6));
        using var client = new LlmChatClient(service, "tiny", LlmPriority.Batch);
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Summarise the meeting.")], new ChatOptions { Temperature = 0.7f, TopP = 0.9f, TopK = 20, Seed = 7, MaxOutputTokens = 30, StopSequences = ["zzzz"] }))
        {
            updates.Add(update);
        }

        var reasoning = string.Concat(updates.SelectMany(u => u.Contents).OfType<TextReasoningContent>().Select(c => c.Text));
        Assert.False(string.IsNullOrEmpty(reasoning));
        Assert.DoesNotContain("think>", string.Concat(updates.Select(u => u.Text)), StringComparison.Ordinal);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(6, usage.ReasoningTokenCount);
        Assert.All(updates, u => Assert.Equal("tiny", u.ModelId));
    }

    [Fact]
    public async Task FailedRequestThrowsWithItsCode()
    {
        await using var service = await models.ServiceWith();
        using var client = new LlmChatClient(service, "missing");
        var e = await Assert.ThrowsAsync<LlmRequestFailedException>(() => client.GetResponseAsync("Hi"));
        Assert.Equal(LlmErrorCodes.ModelNotFound, e.Error.Code);
        Assert.NotNull(client.GetService<ChatClientMetadata>());
    }
}
