using System.Text.Json;
using Appliance.Daemon.Rpc;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary><c>test.count</c>: a command with a visible side effect, to show a redelivery is not acted on twice.</summary>
internal sealed class CountingMethod : IRpcMethod
{
    private int _count;

    public string Name => "test.count";

    public int Count => Volatile.Read(ref _count);

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(new { count = Interlocked.Increment(ref _count) }));
}

/// <summary><c>test.stream</c>: streams <c>parts</c> deltas, then a final result.</summary>
internal sealed class StreamingMethod : IRpcMethod
{
    public string Name => "test.stream";

    public async Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken)
    {
        var parts = request.Params.TryGetProperty("parts", out var value) && value.ValueKind == JsonValueKind.Number ? value.GetInt32() : 3;
        for (var i = 0; i < parts; i++)
        {
            await request.SendDeltaAsync(new { part = i }, cancellationToken);
        }

        return RpcOutcome.Success(new { parts });
    }
}
