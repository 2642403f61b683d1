using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace Appliance.Llm;

/// <summary>
/// <see cref="IChatClient"/> over an <see cref="LlmService"/>, in process. Chat options map to the request
/// (temperature, top-p, top-k, seed, max output tokens, stop sequences, model id, and a JSON-schema response format as
/// <see cref="LlmRequest.AnswerJsonSchema"/>, and the conversation id as <see cref="LlmRequest.PrefixCacheKey"/>, so that
/// the requests of one conversation reuse the key-value cache of the prompt they share); reasoning is streamed as
/// <see cref="TextReasoningContent"/> unless
/// <see cref="ReasoningOptions.Output"/> is <see cref="ReasoningOutput.None"/>.
/// </summary>
/// <remarks>
/// Thread-safe. Does not own the service: disposing the client leaves it running. A failed request throws
/// <see cref="LlmRequestFailedException"/> with its error code, since this interface has no error values.
/// </remarks>
/// <param name="service">The service that runs the requests; the caller keeps it.</param>
/// <param name="modelId">The model for requests whose options name none; null takes the service's default model.</param>
/// <param name="priority">The queue priority of every request of this client.</param>
/// <param name="thinkingBudgetTokens">Reasoning tokens at most per request; null takes the model spec's budget.</param>
public sealed class LlmChatClient(LlmService service, string? modelId = null, LlmPriority priority = LlmPriority.Interactive, int? thinkingBudgetTokens = null) : IChatClient
{

    private readonly LlmService _service = service ?? throw new ArgumentNullException(nameof(service));
    private readonly ChatClientMetadata _metadata = new("appliance-llm", null, modelId);

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        GetStreamingResponseAsync(messages, options, cancellationToken).ToChatResponseAsync(cancellationToken);

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var request = ToRequest(messages, options);
        var responseId = request.Id;
        var model = request.ModelId;
        await foreach (var e in _service.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            switch (e)
            {
                case LlmStarted started:
                    model = started.ModelId;
                    break;
                case LlmReasoningDelta reasoning:
                    yield return Update([new TextReasoningContent(reasoning.Text)]);
                    break;
                case LlmAnswerDelta answer:
                    yield return Update([new TextContent(answer.Text)]);
                    break;
                case LlmCompleted completed:
                    var usage = new UsageDetails
                    {
                        InputTokenCount = completed.Usage.PromptTokens,
                        OutputTokenCount = completed.Usage.CompletionTokens,
                        TotalTokenCount = completed.Usage.PromptTokens + completed.Usage.CompletionTokens,
                        ReasoningTokenCount = completed.Usage.ReasoningTokens,
                    };
                    var last = Update([new UsageContent(usage)]);
                    last.FinishReason = completed.Reason switch
                    {
                        LlmFinishReason.Stop or LlmFinishReason.StopSequence => ChatFinishReason.Stop,
                        LlmFinishReason.MaxTokens or LlmFinishReason.ContextFull => ChatFinishReason.Length,
                        _ => null,
                    };
                    yield return last;
                    break;
                case LlmFailed failed:
                    throw new LlmRequestFailedException(failed.Error);
            }
        }

        ChatResponseUpdate Update(IList<AIContent> contents) => new(ChatRole.Assistant, contents) { ResponseId = responseId, ModelId = model };
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is not null ? null
            : serviceType == typeof(ChatClientMetadata) ? _metadata
            : serviceType.IsInstanceOfType(this) ? this
            : serviceType.IsInstanceOfType(_service) ? _service
            : null;
    }

    /// <summary>Nothing to release: the service belongs to the caller.</summary>
    public void Dispose()
    {
    }

    private LlmRequest ToRequest(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        var list = new List<LlmMessage>();
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            list.Add(new LlmMessage("system", instructions));
        }

        list.AddRange(messages.Select(m => new LlmMessage(m.Role.Value, m.Text)));
        return new LlmRequest
        {
            ModelId = options?.ModelId ?? modelId,
            Messages = list,
            Priority = priority,
            MaxTokens = options?.MaxOutputTokens,
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            TopK = options?.TopK,
            Seed = options?.Seed,
            StopSequences = options?.StopSequences is { } stops ? [.. stops] : [],
            Reasoning = options?.Reasoning?.Output == ReasoningOutput.None ? ReasoningMode.Drop : ReasoningMode.Separate,
            ThinkingBudgetTokens = thinkingBudgetTokens,
            AnswerJsonSchema = options?.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } ? schema.GetRawText() : null,
            PrefixCacheKey = options?.ConversationId,
        };
    }
}
