using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using Appliance.Contracts;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>
/// A raw MQTT 5 client with one reply topic that records every reply in arrival order, across requests: what a
/// test needs to say "this reply came before that one".
/// </summary>
internal sealed class ReplyLog : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly string _deviceId;
    private readonly string _replies;
    private readonly ConcurrentQueue<(string Request, RpcReply Reply)> _arrivals = new();
    private readonly SemaphoreSlim _arrived = new(0);

    private ReplyLog(IMqttClient client, string deviceId)
    {
        _client = client;
        _deviceId = deviceId;
        _replies = Topics.Replies(deviceId, $"log-{Guid.NewGuid():N}");
        _client.ApplicationMessageReceivedAsync += args =>
        {
            var reply = ContractJson.Deserialize<RpcReply>(args.ApplicationMessage.Payload.ToArray())!;
            _arrivals.Enqueue((Convert.ToHexString(args.ApplicationMessage.CorrelationData), reply));
            _arrived.Release();
            return Task.CompletedTask;
        };
    }

    public IReadOnlyList<(string Request, RpcReply Reply)> Arrivals => [.. _arrivals];

    public static async Task<ReplyLog> ConnectAsync(RunningDaemon daemon)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(daemon.BrokerHost, daemon.BrokerPort).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        var log = new ReplyLog(client, daemon.DeviceId);
        await client.SubscribeAsync(log._replies, MqttQualityOfServiceLevel.AtLeastOnce);
        return log;
    }

    /// <summary>Sends a request and returns its id in <see cref="Arrivals"/>.</summary>
    public Task<string> SendAsync<TParams, TResult>(RpcMethod<TParams, TResult> method, TParams parameters) =>
        SendToAsync(Topics.Rpc(_deviceId, method.Name), JsonSerializer.SerializeToUtf8Bytes(parameters, method.ParamsInfo));

    /// <summary>Sends a meeting command on the meeting's control topic and returns its id in <see cref="Arrivals"/>.</summary>
    public Task<string> ControlAsync(string sessionId, MeetingControl command) =>
        SendToAsync(Topics.MeetingControl(_deviceId, sessionId), Channels.MeetingControl.Serialize(command));

    private async Task<string> SendToAsync(string topic, byte[] payload)
    {
        var correlation = RandomNumberGenerator.GetBytes(8);
        await _client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload)
            .WithResponseTopic(_replies)
            .WithCorrelationData(correlation)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        return Convert.ToHexString(correlation);
    }

    /// <summary>Waits until <paramref name="condition"/> holds over the arrivals so far.</summary>
    public async Task WaitForAsync(Func<IReadOnlyList<(string Request, RpcReply Reply)>, bool> condition, TimeSpan limit)
    {
        using var timeout = new CancellationTokenSource(limit);
        while (!condition(Arrivals))
        {
            await _arrived.WaitAsync(timeout.Token);
        }
    }

    public Task WaitForFinalAsync(string request, TimeSpan limit) =>
        WaitForAsync(a => a.Any(x => x.Request == request && x.Reply.Final), limit);

    public RpcReply Final(string request) => Arrivals.Single(x => x.Request == request && x.Reply.Final).Reply;

    public async ValueTask DisposeAsync()
    {
        await _client.DisconnectAsync();
        _client.Dispose();
        _arrived.Dispose();
    }
}
