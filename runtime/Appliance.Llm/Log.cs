using Microsoft.Extensions.Logging;

namespace Appliance.Llm;

/// <summary>The service's log messages; event ids 5000–5099 are Appliance.Llm's and do not change.</summary>
internal static partial class Log
{
    [LoggerMessage(5000, LogLevel.Information, "Model {ModelId} loaded on {ExecutionProvider}: context {ContextTokens} tokens, KV cache {KvBytesPerToken} B/token, weights {WeightBytes} B")]
    public static partial void ModelLoaded(ILogger logger, string modelId, string executionProvider, int contextTokens, long kvBytesPerToken, long weightBytes);

    [LoggerMessage(5001, LogLevel.Warning, "Model {ModelId} from {Path} failed to load ({Code}): {Reason}")]
    public static partial void ModelLoadFailed(ILogger logger, string modelId, string path, string code, string reason);

    [LoggerMessage(5002, LogLevel.Warning, "Model {ModelId}: execution provider failed, falling back: {Reason}")]
    public static partial void ProviderFallback(ILogger logger, string modelId, string reason);

    [LoggerMessage(5003, LogLevel.Information, "Model {ModelId} unloaded")]
    public static partial void ModelUnloaded(ILogger logger, string modelId);

    [LoggerMessage(5004, LogLevel.Error, "Request {RequestId} on model {ModelId} failed: {Reason}")]
    public static partial void GenerationFailed(ILogger logger, string requestId, string modelId, string reason);

    [LoggerMessage(5005, LogLevel.Warning, "Request {RequestId} refused ({Code}): {Reason}")]
    public static partial void RequestRefused(ILogger logger, string requestId, string code, string reason);

    [LoggerMessage(5006, LogLevel.Warning, "Model {ModelId}: its tokenizer normalizes text to NFC, but this system has no ICU (libicuuc); prompts go in as sent, so a decomposed accent costs more tokens than with the model's own tokenizer")]
    public static partial void NoNfc(ILogger logger, string modelId);
}
