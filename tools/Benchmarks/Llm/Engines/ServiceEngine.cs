using Appliance.Inference;
using System.Diagnostics;
using System.Text;
using Appliance.Llm;
using Appliance.Profiles;

namespace Appliance.Benchmarks.Llm.Engines;

/// <summary>
/// Our <see cref="LlmService"/> end to end, consumed as the daemon consumes it: every event of the stream is read
/// and the answer text gathered, on the caller's side of the service's channel.
/// </summary>
internal sealed class ServiceEngine : ILlmEngine
{
    private const string ModelId = "bench";
    private readonly LlmService _service;

    private ServiceEngine(LlmService service) => _service = service;

    /// <summary>Loads the model at <paramref name="modelDirectory"/> into a new service.</summary>
    /// <param name="modelDirectory">A GenAI model folder.</param>
    /// <param name="threads">Intra-op threads.</param>
    /// <param name="contextTokens">The model's context window for the benchmark, in tokens.</param>
    /// <param name="cpuArena">ONNX Runtime's CPU arena (<see cref="InferenceSettings.CpuMemoryArena"/>); the daemon's default for language models is on.</param>
    /// <param name="spinning">When the intra-op threads spin (<see cref="InferenceSettings.Spinning"/>); the daemon's default is never.</param>
    public static async Task<ServiceEngine> LoadAsync(string modelDirectory, int threads, int contextTokens, bool cpuArena, SpinPolicy spinning = SpinPolicy.Never)
    {
        var service = new LlmService(new LlmServiceOptions
        {
            Inference = InferenceSettings.Cpu(threads) with { CpuMemoryArena = cpuArena, Spinning = spinning },
        });
        var status = await service.LoadModelAsync(new ModelSpec { Id = ModelId, Path = modelDirectory, ContextTokens = contextTokens }).ConfigureAwait(false);
        if (status.State != LlmModelState.Loaded)
        {
            await service.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException($"the service did not load {modelDirectory}: {status.Error?.Code} {status.Error?.Message}");
        }

        return new ServiceEngine(service);
    }

    public async Task<RunTiming> GenerateAsync(int[] prompt, int newTokens)
    {
        var request = new LlmRequest { ModelId = ModelId, PromptTokenIds = prompt, MaxTokens = newTokens, Temperature = 0 };
        var answer = new StringBuilder();
        LlmCompleted? completed = null;
        var start = Stopwatch.GetTimestamp();
        await foreach (var e in _service.GenerateAsync(request).ConfigureAwait(false))
        {
            switch (e)
            {
                case LlmAnswerDelta delta:
                    answer.Append(delta.Text);
                    break;
                case LlmCompleted done:
                    completed = done;
                    break;
                case LlmFailed failed:
                    throw new InvalidOperationException($"the service failed the request: {failed.Error.Code} {failed.Error.Message}");
            }
        }

        var total = Stopwatch.GetElapsedTime(start);
        if (completed is not { Reason: LlmFinishReason.MaxTokens, Usage: { TimeToFirstToken: { } firstToken } usage } || usage.CompletionTokens != newTokens)
        {
            throw new InvalidOperationException($"the service stopped with {completed?.Reason} after {completed?.Usage.CompletionTokens} of {newTokens} tokens");
        }

        // The service times the first token from the moment the request was queued, which is when enumeration began.
        return new RunTiming(firstToken, total - firstToken, usage.CompletionTokens);
    }

    public ValueTask DisposeAsync() => _service.DisposeAsync();
}
