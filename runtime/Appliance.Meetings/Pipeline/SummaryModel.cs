using Microsoft.Extensions.AI;

namespace Appliance.Meetings.Pipeline;

/// <summary>
/// The language model a meeting summary is made with, as the pipeline sees it: a chat client at batch priority whose
/// reasoning is capped at <see cref="ThinkingBudgetTokens"/> (a JSON-schema response format asks for constrained
/// decoding without reasoning), the model's context, and its tokenizer's count.
/// </summary>
/// <param name="Chat">The chat client; the provider keeps it.</param>
/// <param name="ContextTokens">The model's usable context, in tokens.</param>
/// <param name="ThinkingBudgetTokens">Reasoning tokens at most per request, as the chat client enforces it.</param>
/// <param name="CountTokens">Tokens of a text as the model's tokenizer counts them.</param>
public sealed record SummaryModel(IChatClient Chat, int ContextTokens, int ThinkingBudgetTokens, Func<string, int> CountTokens)
{
    /// <summary>
    /// The thinking budget for a model of <paramref name="contextTokens"/> context: the profile's budget (512 when it
    /// names none), but at most a quarter of the context so that the transcript keeps room.
    /// </summary>
    /// <param name="profileBudget">The model's <c>thinkingBudgetTokens</c> from the profile, or null.</param>
    /// <param name="contextTokens">The model's usable context, in tokens.</param>
    public static int ThinkingBudgetFor(int? profileBudget, int contextTokens) => Math.Min(profileBudget ?? 512, contextTokens / 4);
}
