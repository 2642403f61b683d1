using System.Text.Json;
using Appliance.Contracts;

namespace Appliance.Daemon.Rpc;

/// <summary>
/// One RPC method as the dispatcher serves it, found by <see cref="Name"/>. Implementations are singletons called
/// concurrently; expected failures come back as an <see cref="RpcOutcome"/> error, never as exceptions. Features derive
/// from <see cref="RpcHandler{TParams, TResult}"/>, which reads and writes the contract's types.
/// </summary>
internal interface IRpcMethod
{
    string Name { get; }

    /// <summary>A larger request limit than Rpc:MaxPayloadBytes, for methods that take audio; null keeps the default.</summary>
    int? MaxPayloadBytes { get; }

    /// <summary>
    /// True for commands on one meeting: requests naming the same <c>sessionId</c> run one after another in the order
    /// they arrived, together with that meeting's control-topic commands.
    /// </summary>
    bool InSessionOrder { get; }

    /// <summary>
    /// True for the methods any hub of a fleet group may serve, so that they are also taken from the fleet topic: those
    /// that keep no state between requests (a transcription, a chat), and <c>meetings.start</c>, which places a meeting
    /// on the hub that takes it.
    /// </summary>
    bool FleetServed => false;

    Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken);
}

/// <summary>The final answer of a call: a result or a structured error.</summary>
internal sealed record RpcOutcome(JsonElement? Result, RpcError? Error)
{
    public static RpcOutcome Failure(string code, string message) => new(null, new RpcError(code, message));
}

/// <summary>
/// One request being served: its parameters (always a JSON object) and, for streaming methods, a way to publish a
/// part before the final outcome. Not thread-safe: one handler drives it.
/// </summary>
internal sealed class RpcCall(JsonElement parameters, Func<RpcReply, CancellationToken, Task> send)
{
    private int _nextSeq;

    public JsonElement Params { get; } = parameters;

    /// <summary>Whether the request was taken from the fleet topic (any hub of the group may serve it) rather than this device's own.</summary>
    public bool FromFleet { get; init; }

    public int NextSeq => _nextSeq;

    /// <summary>Publishes a streamed part with the next sequence number.</summary>
    public Task SendDeltaAsync(JsonElement delta, CancellationToken cancellationToken) =>
        send(new RpcReply { Seq = _nextSeq++, Final = false, Delta = delta }, cancellationToken);
}

/// <summary>A method of the contract: its parameters read as <typeparamref name="TParams"/>, its result written as <typeparamref name="TResult"/>.</summary>
internal abstract class RpcHandler<TParams, TResult>(RpcMethod<TParams, TResult> method) : IRpcMethod
    where TParams : class
{
    public string Name => method.Name;

    public virtual int? MaxPayloadBytes => null;

    public virtual bool InSessionOrder => false;

    public virtual bool FleetServed => false;

    public async Task<RpcOutcome> InvokeAsync(RpcCall call, CancellationToken cancellationToken)
    {
        TParams? parameters;
        try
        {
            parameters = method.DeserializeParams(call.Params);
        }
        catch (JsonException ex)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, $"{Name} parameters: {ex.Message}");
        }

        if (parameters is null)
        {
            return RpcOutcome.Failure(RpcErrorCodes.InvalidParams, $"{Name} needs a JSON object of parameters");
        }

        var result = await HandleAsync(parameters, call, cancellationToken).ConfigureAwait(false);
        return result.Error is { } error ? new RpcOutcome(null, error) : new RpcOutcome(method.SerializeResult(result.Value!), null);
    }

    /// <summary>Serves one call; expected failures come back with <see cref="Fail"/>.</summary>
    protected abstract Task<RpcResult<TResult>> HandleAsync(TParams parameters, RpcCall call, CancellationToken cancellationToken);

    protected static RpcResult<TResult> Ok(TResult result) => new(result, null);

    protected static RpcResult<TResult> Fail(string code, string message) => new(default, new RpcError(code, message));
}

/// <summary>A method of the contract that streams <typeparamref name="TDelta"/> parts before its result.</summary>
internal abstract class StreamingRpcHandler<TParams, TDelta, TResult>(StreamingRpcMethod<TParams, TDelta, TResult> method) : RpcHandler<TParams, TResult>(method)
    where TParams : class
{
    /// <summary>Publishes a streamed part of <paramref name="call"/>.</summary>
    protected Task SendAsync(RpcCall call, TDelta delta, CancellationToken cancellationToken) =>
        call.SendDeltaAsync(method.SerializeDelta(delta), cancellationToken);
}
