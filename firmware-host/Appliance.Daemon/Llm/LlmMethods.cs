using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Llm;
using Appliance.Profiles;

namespace Appliance.Daemon.Llm;

/// <summary>
/// <c>llm.chat</c>: streams a generation. Deltas: <c>{"type":"started","requestId","model","queueMs"}</c>, then
/// <c>{"type":"answer"|"reasoning","text"}</c>; the final result holds the whole answer, the finish reason and usage.
/// </summary>
internal sealed class LlmChatMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "llm.chat";

    public async Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        ChatParams? parameters;
        try
        {
            parameters = request.Params.Deserialize<ChatParams>(ContractJson.Options);
        }
        catch (JsonException ex)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, $"llm.chat parameters: {ex.Message}");
        }

        if (parameters?.Validate() is { } problem)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, problem);
        }

        var llmRequest = parameters!.ToRequest();
        var answer = new StringBuilder();
        var reasoning = new StringBuilder();
        string? model = null;
        await foreach (var item in llm.Service.GenerateAsync(llmRequest, cancellationToken).ConfigureAwait(false))
        {
            switch (item)
            {
                case LlmStarted started:
                    model = started.ModelId;
                    await request.SendDeltaAsync(new { type = "started", requestId = llmRequest.Id, model, queueMs = (long)started.QueueTime.TotalMilliseconds }, cancellationToken).ConfigureAwait(false);
                    break;
                case LlmAnswerDelta delta:
                    answer.Append(delta.Text);
                    await request.SendDeltaAsync(new { type = "answer", text = delta.Text }, cancellationToken).ConfigureAwait(false);
                    break;
                case LlmReasoningDelta delta:
                    reasoning.Append(delta.Text);
                    await request.SendDeltaAsync(new { type = "reasoning", text = delta.Text }, cancellationToken).ConfigureAwait(false);
                    break;
                case LlmCompleted completed:
                    return RpcOutcome.Success(new
                    {
                        requestId = llmRequest.Id,
                        model,
                        finishReason = JsonNamingPolicy.CamelCase.ConvertName(completed.Reason.ToString()),
                        endedInReasoning = completed.EndedInReasoning,
                        answer = answer.ToString(),
                        reasoning = llmRequest.Reasoning == ReasoningMode.Separate ? reasoning.ToString() : null,
                        usage = new
                        {
                            promptTokens = completed.Usage.PromptTokens,
                            completionTokens = completed.Usage.CompletionTokens,
                            reasoningTokens = completed.Usage.ReasoningTokens,
                            timeToFirstTokenMs = completed.Usage.TimeToFirstToken?.TotalMilliseconds,
                            tokensPerSecond = Math.Round(completed.Usage.TokensPerSecond, 2),
                        },
                    });
                case LlmFailed failed:
                    return RpcOutcome.Failure(failed.Error.Code, failed.Error.Message);
            }
        }

        return RpcOutcome.Failure(RpcErrorCodes.Internal, "the generation ended without a result");
    }

    private sealed record ChatMessage(string? Role, string? Content);

    private sealed record ChatParams
    {
        public IReadOnlyList<ChatMessage>? Messages { get; init; }
        public string? Model { get; init; }
        public string? Priority { get; init; }
        public int? MaxTokens { get; init; }
        public float? Temperature { get; init; }
        public float? TopP { get; init; }
        public int? TopK { get; init; }
        public long? Seed { get; init; }
        public IReadOnlyList<string>? Stop { get; init; }
        public string? Reasoning { get; init; }
        public int? ThinkingBudget { get; init; }
        public string? RequestId { get; init; }

        public string? Validate()
        {
            if (Messages is not { Count: > 0 } || Messages.Any(m => string.IsNullOrEmpty(m.Role) || m.Content is null))
            {
                return "messages must be a non-empty list of {\"role\", \"content\"}";
            }

            if (Messages.Any(m => m.Role is not ("system" or "user" or "assistant")))
            {
                return "a message role must be system, user or assistant";
            }

            if (Priority is not (null or "interactive" or "batch"))
            {
                return "priority must be interactive or batch";
            }

            if (Reasoning is not (null or "drop" or "separate"))
            {
                return "reasoning must be drop or separate";
            }

            return MaxTokens is < 1 ? "maxTokens must be at least 1"
                : ThinkingBudget is < 0 ? "thinkingBudget must not be negative"
                : Temperature is < 0 or > 2 ? "temperature must be between 0 and 2"
                : TopP is <= 0 or > 1 ? "topP must be in (0, 1]"
                : RequestId is { Length: 0 or > 128 } ? "requestId must be 1-128 characters"
                : null;
        }

        public LlmRequest ToRequest() => new()
        {
            Id = RequestId ?? Guid.NewGuid().ToString("N"),
            ModelId = Model,
            Messages = [.. Messages!.Select(m => new LlmMessage(m.Role!, m.Content!))],
            Priority = Priority == "batch" ? LlmPriority.Batch : LlmPriority.Interactive,
            MaxTokens = MaxTokens,
            Temperature = Temperature,
            TopP = TopP,
            TopK = TopK,
            Seed = Seed,
            StopSequences = Stop ?? [],
            Reasoning = Reasoning == "separate" ? ReasoningMode.Separate : ReasoningMode.Drop,
            ThinkingBudgetTokens = ThinkingBudget,
        };
    }
}

/// <summary><c>llm.cancel</c> <c>{"requestId"}</c>: stops a queued or running generation; it ends with finish reason "cancelled".</summary>
internal sealed class LlmCancelMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "llm.cancel";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(request.Params.TryGetProperty("requestId", out var id) && id.ValueKind == JsonValueKind.String
            ? RpcOutcome.Success(new { cancelled = llm.Service.TryCancel(id.GetString()!) })
            : RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "llm.cancel needs {\"requestId\": \"...\"}"));
}

/// <summary><c>models.list</c>: every language model the daemon knows, with state, provider, context and memory figures.</summary>
internal sealed class ModelsListMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "models.list";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(new { defaultModel = llm.Service.DefaultModelId, models = llm.Service.Models }));
}

/// <summary><c>models.load</c> <c>{"id","path","contextTokens"?,"feature"?}</c>: loads or replaces a model at run time.</summary>
internal sealed class ModelsLoadMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "models.load";

    public async Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        var p = request.Params;
        if (!p.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String || !p.TryGetProperty("path", out var path) || path.ValueKind != JsonValueKind.String)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "models.load needs {\"id\": \"...\", \"path\": \"...\"}");
        }

        int? context = p.TryGetProperty("contextTokens", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetInt32() : null;
        var feature = p.TryGetProperty("feature", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString()! : "llm";
        var status = await llm.LoadAsync(new ModelSpec { Id = id.GetString()!, Path = path.GetString()!, ContextTokens = context }, feature, cancellationToken).ConfigureAwait(false);
        return status.Error is { } error ? RpcOutcome.Failure(error.Code, error.Message) : RpcOutcome.Success(status);
    }
}

/// <summary><c>models.unload</c> <c>{"id"}</c>: frees a model once its running generations finish.</summary>
internal sealed class ModelsUnloadMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "models.unload";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(request.Params.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? llm.Service.UnloadModel(id.GetString()!) ? RpcOutcome.Success(new { unloaded = id.GetString() }) : RpcOutcome.Failure(LlmErrorCodes.ModelNotFound, $"no model '{id.GetString()}' is loaded")
            : RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "models.unload needs {\"id\": \"...\"}"));
}

/// <summary><c>models.select</c> <c>{"id"}</c>: makes a loaded model the default for requests that name none.</summary>
internal sealed class ModelsSelectMethod(LlmHost llm) : IRpcMethod
{
    public string Name => "models.select";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(request.Params.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? llm.Service.SetDefaultModel(id.GetString()!) ? RpcOutcome.Success(new { defaultModel = id.GetString() }) : RpcOutcome.Failure(LlmErrorCodes.ModelNotFound, $"no model '{id.GetString()}' is loaded")
            : RpcOutcome.Failure(RpcErrorCodes.InvalidParams, "models.select needs {\"id\": \"...\"}"));
}
