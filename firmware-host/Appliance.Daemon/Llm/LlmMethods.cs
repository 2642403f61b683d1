using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Llm;
using Appliance.Profiles;

namespace Appliance.Daemon.Llm;

/// <summary>
/// <c>llm.chat</c>: streams a generation: <see cref="LlmChatStarted"/>, then reasoning and answer text; the final result
/// holds the whole answer, the finish reason and usage.
/// </summary>
internal sealed class LlmChatMethod(LlmService llm, DeviceMetrics metrics) : StreamingRpcHandler<LlmChatParams, LlmChatDelta, LlmChatResult>(RpcMethods.LlmChat)
{
    /// <summary>A chat carries its whole conversation: any hub of a fleet may serve it.</summary>
    public override bool FleetServed => true;

    protected override async Task<RpcResult<LlmChatResult>> HandleAsync(LlmChatParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (parameters.Problem() is { } problem)
        {
            return Fail(RpcErrorCodes.InvalidParams, problem);
        }

        var request = ToRequest(parameters);
        var answer = new StringBuilder();
        var reasoning = new StringBuilder();
        string? model = null;
        await foreach (var item in llm.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
        {
            switch (item)
            {
                case LlmStarted started:
                    model = started.ModelId;
                    await SendAsync(call, new LlmChatStarted(request.Id, model, (long)started.QueueTime.TotalMilliseconds), cancellationToken).ConfigureAwait(false);
                    break;
                case LlmAnswerDelta delta:
                    answer.Append(delta.Text);
                    await SendAsync(call, new LlmChatAnswer(delta.Text), cancellationToken).ConfigureAwait(false);
                    break;
                case LlmReasoningDelta delta:
                    reasoning.Append(delta.Text);
                    await SendAsync(call, new LlmChatReasoning(delta.Text), cancellationToken).ConfigureAwait(false);
                    break;
                case LlmCompleted completed:
                    if (completed.Usage.TokensPerSecond > 0)
                    {
                        metrics.RecordDecodeRate(completed.Usage.TokensPerSecond);
                    }

                    return Ok(new LlmChatResult
                    {
                        RequestId = request.Id,
                        Model = model,
                        FinishReason = ToContract(completed.Reason),
                        EndedInReasoning = completed.EndedInReasoning,
                        Answer = answer.ToString(),
                        Reasoning = request.Reasoning == ReasoningMode.Separate ? reasoning.ToString() : null,
                        Usage = new LlmChatUsage(
                            completed.Usage.PromptTokens,
                            completed.Usage.CompletionTokens,
                            completed.Usage.ReasoningTokens,
                            completed.Usage.TimeToFirstToken?.TotalMilliseconds,
                            Math.Round(completed.Usage.TokensPerSecond, 2)),
                    });
                case LlmFailed failed:
                    return Fail(failed.Error.Code, failed.Error.Message);
            }
        }

        return Fail(RpcErrorCodes.Internal, "the generation ended without a result");
    }

    private static FinishReason ToContract(LlmFinishReason reason) => reason switch
    {
        LlmFinishReason.Stop => FinishReason.Stop,
        LlmFinishReason.StopSequence => FinishReason.StopSequence,
        LlmFinishReason.MaxTokens => FinishReason.MaxTokens,
        LlmFinishReason.ContextFull => FinishReason.ContextFull,
        _ => FinishReason.Cancelled,
    };

    private static LlmRequest ToRequest(LlmChatParams p) => new()
    {
        Id = p.RequestId ?? Guid.NewGuid().ToString("N"),
        ModelId = p.Model,
        Messages = [.. p.Messages!.Select(m => new LlmMessage(m.Role!, m.Content!))],
        Priority = p.Priority == LlmChatPriorities.Batch ? LlmPriority.Batch : LlmPriority.Interactive,
        MaxTokens = p.MaxTokens,
        Temperature = p.Temperature,
        TopP = p.TopP,
        TopK = p.TopK,
        Seed = p.Seed,
        StopSequences = p.Stop ?? [],
        Reasoning = p.Reasoning == LlmReasoningModes.Separate ? ReasoningMode.Separate : ReasoningMode.Drop,
        ThinkingBudgetTokens = p.ThinkingBudget,
    };
}

/// <summary><c>llm.cancel</c> <c>{"requestId"}</c>: stops a queued or running generation; it ends with finish reason "cancelled".</summary>
internal sealed class LlmCancelMethod(LlmService llm) : RpcHandler<RequestIdParams, CancelResult>(RpcMethods.LlmCancel)
{
    protected override Task<RpcResult<CancelResult>> HandleAsync(RequestIdParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(parameters.RequestId is { } id
            ? Ok(new CancelResult(llm.TryCancel(id)))
            : Fail(RpcErrorCodes.InvalidParams, "llm.cancel needs {\"requestId\": \"...\"}"));
}

/// <summary><c>models.list</c>: every language model the daemon knows, with state, provider, context and memory figures.</summary>
internal sealed class ModelsListMethod(LlmService llm) : RpcHandler<EmptyParams, ModelsListResult>(RpcMethods.ModelsList)
{
    protected override Task<RpcResult<ModelsListResult>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(Ok(new ModelsListResult(llm.DefaultModelId, [.. llm.Models.Select(LanguageModels.ToContract)])));
}

/// <summary><c>models.load</c> <c>{"id","path","contextTokens"?,"feature"?}</c>: loads or replaces a model at run time.</summary>
internal sealed class ModelsLoadMethod(LlmHost host) : RpcHandler<ModelsLoadParams, LanguageModelInfo>(RpcMethods.ModelsLoad)
{
    protected override async Task<RpcResult<LanguageModelInfo>> HandleAsync(ModelsLoadParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (parameters is not { Id: { } id, Path: { } path })
        {
            return Fail(RpcErrorCodes.InvalidParams, "models.load needs {\"id\": \"...\", \"path\": \"...\"}");
        }

        if (!Identifiers.IsValidModelId(id))
        {
            return Fail(RpcErrorCodes.InvalidParams, InvalidModelId(id));
        }

        var status = await host.LoadAsync(new ModelSpec { Id = id, Path = path, ContextTokens = parameters.ContextTokens }, parameters.Feature ?? ModelFeatures.Llm, cancellationToken).ConfigureAwait(false);
        return status.Error is { } error ? Fail(error.Code, error.Message) : Ok(LanguageModels.ToContract(status));
    }

    /// <summary>The refusal of a model id that breaks <see cref="Identifiers.IsValidModelId"/>.</summary>
    public static string InvalidModelId(string id) => $"'{id}' is not a valid model id ({Identifiers.ModelIdDescription})";
}

/// <summary><c>models.unload</c> <c>{"id"}</c>: frees a model once its running generations finish.</summary>
internal sealed class ModelsUnloadMethod(LlmService llm) : RpcHandler<ModelIdParams, ModelsUnloadResult>(RpcMethods.ModelsUnload)
{
    protected override Task<RpcResult<ModelsUnloadResult>> HandleAsync(ModelIdParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(parameters.Id is not { } id ? Fail(RpcErrorCodes.InvalidParams, "models.unload needs {\"id\": \"...\"}")
            : !Identifiers.IsValidModelId(id) ? Fail(RpcErrorCodes.InvalidParams, ModelsLoadMethod.InvalidModelId(id))
            : llm.UnloadModel(id) ? Ok(new ModelsUnloadResult(id))
            : Fail(RpcErrorCodes.ModelNotFound, $"no model '{id}' is loaded"));
}

/// <summary><c>models.select</c> <c>{"id"}</c>: makes a loaded model the default for requests that name none.</summary>
internal sealed class ModelsSelectMethod(LlmService llm) : RpcHandler<ModelIdParams, ModelsSelectResult>(RpcMethods.ModelsSelect)
{
    protected override Task<RpcResult<ModelsSelectResult>> HandleAsync(ModelIdParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(parameters.Id is not { } id ? Fail(RpcErrorCodes.InvalidParams, "models.select needs {\"id\": \"...\"}")
            : !Identifiers.IsValidModelId(id) ? Fail(RpcErrorCodes.InvalidParams, ModelsLoadMethod.InvalidModelId(id))
            : llm.SetDefaultModel(id) ? Ok(new ModelsSelectResult(id))
            : Fail(RpcErrorCodes.ModelNotFound, $"no model '{id}' is loaded"));
}

/// <summary>The language models as the contract shows them.</summary>
internal static class LanguageModels
{
    public static LanguageModelInfo ToContract(LlmModelStatus status) => new()
    {
        Id = status.Id,
        Path = status.Path,
        State = State(status.State),
        ExecutionProvider = status.ExecutionProvider,
        ProviderFallbacks = status.ProviderFallbacks,
        Error = status.Error is { } error ? new RpcError(error.Code, error.Message) : null,
        ContextTokens = status.ContextTokens,
        KvCacheBytesPerToken = status.KvCacheBytesPerToken,
        WeightBytes = status.WeightBytes,
        EstimatedBytes = status.EstimatedBytes,
    };

    public static string State(LlmModelState state) => state switch
    {
        LlmModelState.Loading => ModelStates.Loading,
        LlmModelState.Loaded => ModelStates.Loaded,
        LlmModelState.Failed => ModelStates.Failed,
        LlmModelState.Unloaded => ModelStates.Unloaded,
        _ => throw new ArgumentOutOfRangeException(nameof(state), state, "not a model state"),
    };
}
