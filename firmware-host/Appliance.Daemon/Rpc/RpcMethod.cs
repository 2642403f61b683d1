using System.Text.Json;
using Appliance.Contracts;

namespace Appliance.Daemon.Rpc;

/// <summary>
/// One RPC method of contract v1, found by <see cref="Name"/> (the last topic level of <c>rpc/{method}</c>).
/// Implementations are singletons called concurrently; expected failures come back as
/// <see cref="RpcOutcome.Failure"/>, never as exceptions.
/// </summary>
public interface IRpcMethod
{
    string Name { get; }

    /// <summary>A larger request limit than Rpc:MaxPayloadBytes, for methods that take audio; null keeps the default.</summary>
    int? MaxPayloadBytes => null;

    Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken);
}

/// <summary>The final answer of a call: a result or a structured error.</summary>
public sealed record RpcOutcome(object? Result, RpcError? Error)
{
    public static RpcOutcome Success(object result) => new(result, null);

    public static RpcOutcome Failure(string code, string message) => new(null, new RpcError(code, message));
}

/// <summary>
/// One request being served: its parameters (always a JSON object) and, for streaming methods,
/// <see cref="SendDeltaAsync{T}"/> to publish a part before the final outcome. Not thread-safe: one
/// handler drives it.
/// </summary>
public sealed class RpcCall
{
    private readonly Func<RpcReply, CancellationToken, Task> _send;
    private int _nextSeq;

    internal RpcCall(string method, JsonElement parameters, Func<RpcReply, CancellationToken, Task> send)
    {
        Method = method;
        Params = parameters;
        _send = send;
    }

    public string Method { get; }

    public JsonElement Params { get; }

    internal int NextSeq => _nextSeq;

    /// <summary>Publishes a streamed part with the next sequence number.</summary>
    public Task SendDeltaAsync<T>(T delta, CancellationToken cancellationToken) =>
        _send(new RpcReply { Seq = _nextSeq++, Final = false, Delta = JsonSerializer.SerializeToElement(delta, ContractJson.Options) }, cancellationToken);
}
