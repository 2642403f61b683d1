namespace Appliance.Benchmarks.Llm.Engines;

/// <summary>A loaded model that generates greedily; one generation at a time.</summary>
internal interface ILlmEngine : IAsyncDisposable
{
    /// <summary>
    /// Runs <paramref name="prompt"/> and generates exactly <paramref name="newTokens"/> tokens greedily, end of
    /// sequence suppressed. Throws <see cref="InvalidOperationException"/> when the engine stops early or fails.
    /// </summary>
    Task<RunTiming> GenerateAsync(int[] prompt, int newTokens);
}

/// <summary>The timings of one generation.</summary>
/// <param name="TimeToFirstToken">From the start of the request to the first generated token id (prompt processing included).</param>
/// <param name="DecodeTime">From the first generated token to the end of the generation.</param>
/// <param name="GeneratedTokens">Tokens generated; the decode time covers all but the first.</param>
/// <param name="Drafts">With speculative decoding, the draft tokens proposed and accepted; null without.</param>
internal readonly record struct RunTiming(TimeSpan TimeToFirstToken, TimeSpan DecodeTime, int GeneratedTokens, DraftCounts? Drafts = null);

/// <summary>What speculative decoding proposed in one generation (GenAI's speculative statistics).</summary>
/// <param name="Proposed">Draft tokens proposed (<c>draft_tokens_proposed</c>).</param>
/// <param name="Accepted">Draft tokens the model accepted (<c>draft_tokens_accepted</c>).</param>
internal readonly record struct DraftCounts(long Proposed, long Accepted);
