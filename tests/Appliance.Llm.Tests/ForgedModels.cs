using Appliance.Inference;
using Appliance.ModelForge.Llm;
using Appliance.Profiles;

namespace Appliance.Llm.Tests;

/// <summary>
/// The tiny R1-style model forged once for the collection, plus broken copies of it: a truncated graph and a
/// config naming an input the graph lacks. Removed afterwards.
/// </summary>
public sealed class ForgedModels : IDisposable
{
    public ForgedModels()
    {
        Root = Path.Combine(Path.GetTempPath(), "llm-tests-" + Guid.NewGuid().ToString("N"));
        Tiny = Path.Combine(Root, "tiny");
        LlmForge.Write(LlmPreset.Tiny, 42, Tiny);
        Corrupt = DamagedCopies.TruncatedGraph(Tiny, Path.Combine(Root, "corrupt"));
        MissingInput = DamagedCopies.ConfigNamingMissingInput(Tiny, Path.Combine(Root, "missing-input"));
    }

    public string Root { get; }

    public string Tiny { get; }

    public string Corrupt { get; }

    public string MissingInput { get; }

    public static LlmServiceOptions Options(int concurrency = 1) => new()
    {
        Inference = InferenceSettings.Cpu(1),
        MaxConcurrency = concurrency,
    };

    public ModelSpec Spec(string id = "tiny", int? context = null, int? thinkingBudget = null) =>
        new() { Id = id, Path = Tiny, ContextTokens = context, ThinkingBudgetTokens = thinkingBudget };

    /// <summary>A service with the tiny model loaded under <paramref name="spec"/>'s id.</summary>
    public async Task<LlmService> ServiceWith(ModelSpec? spec = null, LlmServiceOptions? options = null)
    {
        var service = new LlmService(options ?? Options());
        var status = await service.LoadModelAsync(spec ?? Spec());
        Assert.Equal(LlmModelState.Loaded, status.State);
        return service;
    }

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class ForgedModelsGroup : ICollectionFixture<ForgedModels>
{
    public const string Name = "forged LLM models";
}

/// <summary>A whole stream gathered: the deltas by kind and the final event.</summary>
internal sealed record Transcript(IReadOnlyList<LlmEvent> Events)
{
    public string Answer => string.Concat(Events.OfType<LlmAnswerDelta>().Select(d => d.Text));

    public string Reasoning => string.Concat(Events.OfType<LlmReasoningDelta>().Select(d => d.Text));

    public LlmCompleted Completed => Events[^1] as LlmCompleted ?? throw new Xunit.Sdk.XunitException($"the stream failed: {(Events[^1] as LlmFailed)?.Error}");

    public LlmError Error => Assert.IsType<LlmFailed>(Events[^1]).Error;

    public static async Task<Transcript> Of(IAsyncEnumerable<LlmEvent> stream, CancellationToken cancellationToken = default)
    {
        var events = new List<LlmEvent>();
        await foreach (var e in stream.WithCancellation(cancellationToken))
        {
            events.Add(e);
        }

        Assert.True(events.Count > 0 && events[^1] is LlmCompleted or LlmFailed, "a stream ends with one final event");
        Assert.Single(events, e => e is LlmCompleted or LlmFailed);
        return new Transcript(events);
    }
}

internal static class Prompts
{
    public static IReadOnlyList<LlmMessage> User(string text) => [new LlmMessage("user", text)];
}
