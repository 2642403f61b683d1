using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Rpc;

/// <summary>The <c>Rpc</c> configuration section.</summary>
internal sealed class RpcOptions
{
    public const string Section = "Rpc";

    /// <summary>The largest request payload, in bytes, for methods that name no larger limit.</summary>
    [Range(256, 16 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = 64 * 1024;

    /// <summary>Requests handled at the same time (a streaming generation holds one slot while it waits in the LLM queue).</summary>
    [Range(1, 256)]
    public int MaxConcurrent { get; set; } = 16;

    /// <summary>Requests waiting beyond the ones in work; more are answered with a "busy" error.</summary>
    [Range(1, 10_000)]
    public int QueueCapacity { get; set; } = 64;

    /// <summary>How long a finished request's reply is kept for redeliveries with the same idempotency key.</summary>
    [Range(1, 86_400)]
    public int IdempotencyWindowSeconds { get; set; } = 600;

    [Range(16, 100_000)]
    public int IdempotencyCapacity { get; set; } = 1024;
}

[OptionsValidator]
internal sealed partial class RpcOptionsValidator : IValidateOptions<RpcOptions>;
