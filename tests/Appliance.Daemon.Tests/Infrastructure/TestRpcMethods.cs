using System.Text.Json;
using Appliance.Daemon.Rpc;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary><c>test.count</c>: a command with a visible side effect, to show a redelivery is not acted on twice.</summary>
internal sealed class CountingMethod : IRpcMethod
{
    private int _count;

    public string Name => "test.count";

    public int? MaxPayloadBytes => null;

    public bool InSessionOrder => false;

    public int Count => Volatile.Read(ref _count);

    public Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(new RpcOutcome(Json($"{{\"count\":{Interlocked.Increment(ref _count)}}}"), null));

    internal static JsonElement Json(string json) => JsonElement.Parse(json);
}

/// <summary><c>test.stream</c>: streams <c>parts</c> deltas, then a final result.</summary>
internal sealed class StreamingMethod : IRpcMethod
{
    public string Name => "test.stream";

    public int? MaxPayloadBytes => null;

    public bool InSessionOrder => false;

    public async Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken)
    {
        var parts = call.Params.TryGetProperty("parts", out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 3;
        for (var i = 0; i < parts; i++)
        {
            await call.SendDeltaAsync(CountingMethod.Json($"{{\"part\":{i}}}"), cancellationToken);
        }

        return new RpcOutcome(CountingMethod.Json($"{{\"parts\":{parts}}}"), null);
    }
}

/// <summary><c>test.large</c>: answers with a result of about <c>bytes</c> bytes (a long transcript, say), to show the daemon's own replies are not held to the broker's limit for clients.</summary>
internal sealed class LargeReplyMethod : IRpcMethod
{
    public string Name => "test.large";

    public int? MaxPayloadBytes => null;

    public bool InSessionOrder => false;

    public Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken)
    {
        var bytes = call.Params.TryGetProperty("bytes", out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 1000;
        return Task.FromResult(new RpcOutcome(CountingMethod.Json($"{{\"text\":\"{new string('x', bytes)}\"}}"), null));
    }
}

/// <summary><c>test.echo</c>: a stateless method (any hub of a fleet may serve it) that answers its parameters back.</summary>
internal sealed class EchoMethod : IRpcMethod
{
    public string Name => "test.echo";

    public int? MaxPayloadBytes => null;

    public bool InSessionOrder => false;

    public bool FleetServed => true;

    public Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(new RpcOutcome(call.Params.Clone(), null));
}

/// <summary><c>test.echo</c> on a hub that was lost while serving: it takes requests and never answers (until shut down); counts them.</summary>
internal sealed class LostEchoMethod : IRpcMethod
{
    private int _taken;

    public string Name => "test.echo";

    public int? MaxPayloadBytes => null;

    public bool InSessionOrder => false;

    public bool FleetServed => true;

    public int Taken => Volatile.Read(ref _taken);

    public async Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _taken);
        await Task.Delay(Timeout.Infinite, cancellationToken);
        return RpcOutcome.Failure(Appliance.Contracts.RpcErrorCodes.Cancelled, "never answered");
    }
}
