namespace Appliance.Llm.Tests;

[Collection(ForgedModelsGroup.Name)]
public sealed class QueueTests(ForgedModels models)
{
    [Fact]
    public async Task WithConcurrencyOneRequestsRunInPriorityOrderFifoWithinAPriority()
    {
        await using var service = await models.ServiceWith();
        var started = new List<string>();
        var order = new Lock();

        LlmRequest Request(string id, LlmPriority priority, int maxTokens) =>
            new() { Id = id, Priority = priority, Messages = Prompts.User($"Summarise meeting {id}."), Temperature = 0, MaxTokens = maxTokens };

        async Task<Transcript> Run(LlmRequest request)
        {
            var events = new List<LlmEvent>();
            await foreach (var e in service.GenerateAsync(request))
            {
                if (e is LlmStarted)
                {
                    lock (order)
                    {
                        started.Add(request.Id);
                    }
                }

                events.Add(e);
            }

            return new Transcript(events);
        }

        // The long request starts, then its reader pauses: the one-slot event channel holds its generator mid-answer.
        var longRequest = new LlmRequest { Id = "batch-long", Priority = LlmPriority.Batch, PromptTokenIds = [104, 105, 173], Temperature = 0, MaxTokens = 400 };
        var longEvents = service.GenerateAsync(longRequest).GetAsyncEnumerator();
        Assert.True(await longEvents.MoveNextAsync());
        Assert.IsType<LlmStarted>(longEvents.Current);
        started.Add(longRequest.Id);

        var rest = new[]
        {
            Run(Request("batch-1", LlmPriority.Batch, 4)),
            Run(Request("voice-1", LlmPriority.Interactive, 4)),
            Run(Request("voice-2", LlmPriority.Interactive, 4)),
        };
        Assert.Equal(3, service.QueuedCount);
        Assert.Equal(1, service.RunningCount);
        Assert.True(service.TryCancel("batch-long"));
        var longTail = new List<LlmEvent>();
        while (await longEvents.MoveNextAsync())
        {
            longTail.Add(longEvents.Current);
        }

        await longEvents.DisposeAsync();
        Assert.Equal(LlmFinishReason.Cancelled, Assert.IsType<LlmCompleted>(longTail[^1]).Reason);

        var transcripts = await Task.WhenAll(rest).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(transcripts, t => Assert.IsType<LlmCompleted>(t.Events[^1]));
        Assert.Equal(["batch-long", "voice-1", "voice-2", "batch-1"], started);
    }

    [Fact]
    public async Task ARequestCancelledWhileQueuedEndsAtOnceAndNeverRuns()
    {
        await using var service = await models.ServiceWith();
        var longRequest = new LlmRequest { Id = "long", PromptTokenIds = [104, 105, 173], Temperature = 0, MaxTokens = 400 };
        var longEvents = service.GenerateAsync(longRequest).GetAsyncEnumerator();
        Assert.True(await longEvents.MoveNextAsync());

        using var cancellation = new CancellationTokenSource();
        var queued = Transcript.Of(service.GenerateAsync(new LlmRequest { Id = "queued", Messages = Prompts.User("Hi") }, cancellation.Token));
        Assert.Equal(1, service.QueuedCount);
        await cancellation.CancelAsync();
        var cancelled = await queued.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(LlmFinishReason.Cancelled, cancelled.Completed.Reason);
        Assert.DoesNotContain(cancelled.Events, e => e is LlmStarted);
        Assert.Equal(0, service.QueuedCount);

        Assert.True(service.TryCancel("long"));
        LlmEvent last = longEvents.Current;
        while (await longEvents.MoveNextAsync())
        {
            last = longEvents.Current;
        }

        await longEvents.DisposeAsync();
        Assert.Equal(LlmFinishReason.Cancelled, Assert.IsType<LlmCompleted>(last).Reason);
    }

    [Fact]
    public async Task AFullQueueRefusesWithACode()
    {
        var options = ForgedModels.Options() with { QueueCapacity = 0 };
        await using var service = await models.ServiceWith(options: options);
        var transcript = await Transcript.Of(service.GenerateAsync(new LlmRequest { Messages = Prompts.User("Hi") }));
        Assert.Equal(LlmErrorCodes.QueueFull, transcript.Error.Code);
    }

    [Fact]
    public async Task TwoConcurrentGenerationsBothComplete()
    {
        await using var service = await models.ServiceWith(options: ForgedModels.Options(concurrency: 2));
        var results = await Task.WhenAll(
            Transcript.Of(service.GenerateAsync(new LlmRequest { Id = "a", Messages = Prompts.User("One"), Temperature = 0, MaxTokens = 16 })),
            Transcript.Of(service.GenerateAsync(new LlmRequest { Id = "b", Messages = Prompts.User("One"), Temperature = 0, MaxTokens = 16 })));
        Assert.Equal(results[0].Completed.Usage.CompletionTokens, results[1].Completed.Usage.CompletionTokens);
    }
}
