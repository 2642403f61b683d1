using System.Diagnostics;
using System.Numerics.Tensors;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Appliance.Benchmarks.Llm.Engines;

/// <summary>
/// llama.cpp through LLamaSharp's low-level API: the prompt decoded as one batch, then one single-token batch per
/// generated token, greedy by arg-max over the logits (so end of sequence never stops it). One context is kept and
/// its KV memory cleared between generations, as a server keeps its slot.
/// </summary>
internal sealed class LlamaCppEngine : ILlmEngine
{
    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;
    private readonly LLamaBatch _batch = new();

    static LlamaCppEngine()
    {
        // llama.cpp logs every tensor it loads; keep warnings and errors.
        NativeLogConfig.llama_log_set((level, message) =>
        {
            if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
            {
                Console.Error.Write(message);
            }
        });
    }

    private LlamaCppEngine(LLamaWeights weights, LLamaContext context)
    {
        _weights = weights;
        _context = context;
    }

    public static LlamaCppEngine Load(string ggufPath, int threads, int promptTokens, int contextTokens)
    {
        var parameters = new ModelParams(ggufPath)
        {
            ContextSize = (uint)contextTokens,
            BatchSize = (uint)promptTokens,
            UBatchSize = (uint)promptTokens,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
        };
        var weights = LLamaWeights.LoadFromFile(parameters);
        try
        {
            return new LlamaCppEngine(weights, weights.CreateContext(parameters));
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    public Task<RunTiming> GenerateAsync(int[] prompt, int newTokens)
    {
        _context.NativeHandle.MemoryClear(true);
        _batch.Clear();
        var start = Stopwatch.GetTimestamp();
        foreach (var (token, position) in prompt.Select((t, i) => (t, i)))
        {
            _batch.Add(token, position, LLamaSeqId.Zero, position == prompt.Length - 1);
        }

        var next = DecodeAndPick(_batch.TokenCount - 1);
        var firstAt = Stopwatch.GetTimestamp();
        for (var position = prompt.Length; position < prompt.Length + newTokens - 1; position++)
        {
            _batch.Clear();
            _batch.Add(next, position, LLamaSeqId.Zero, true);
            next = DecodeAndPick(0);
        }

        var end = Stopwatch.GetTimestamp();
        return Task.FromResult(new RunTiming(Stopwatch.GetElapsedTime(start, firstAt), Stopwatch.GetElapsedTime(firstAt, end), newTokens));
    }

    public ValueTask DisposeAsync()
    {
        _context.Dispose();
        _weights.Dispose();
        return ValueTask.CompletedTask;
    }

    private int DecodeAndPick(int logitsIndex)
    {
        var result = _context.Decode(_batch);
        if (result != DecodeResult.Ok)
        {
            throw new InvalidOperationException($"llama_decode returned {result}");
        }

        return TensorPrimitives.IndexOfMax(_context.NativeHandle.GetLogitsIth(logitsIndex));
    }
}
