using System.Buffers;
using System.Text;
using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using MQTTnet;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Fleet mode on a real Mosquitto: daemons in one group take turns at the requests on the group's fleet topic through
/// an MQTT 5 shared subscription, each request served once and its replies naming the hub; meetings are placed up to
/// each hub's capacity; a hub lost or killed while serving costs no request the client retries and no accepted frame;
/// a method that keeps state is refused there; and set-ups fleet mode cannot work with are named.
/// </summary>
public sealed class FleetTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private const string Group = "hubs";

    [Fact]
    public async Task Three_hubs_share_the_fleet_requests_each_served_once_and_naming_its_hub()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var profile = models.Profile();
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Profile={profile}", $"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"]));
            }

            using var app = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
            var replies = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-1"));
            var audio = Transcribe(seconds: 1);
            const int Requests = 60;
            for (var i = 0; i < Requests; i++)
            {
                await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, RpcMethods.AsrTranscribe.Name))
                    .WithPayload(audio).WithResponseTopic(replies.Topic).WithCorrelationData(BitConverter.GetBytes(i))
                    .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }

            var served = new Dictionary<int, string>();
            var texts = new HashSet<string>(StringComparer.Ordinal);
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            while (served.Count < Requests)
            {
                var message = await replies.Reader.ReadAsync(limit.Token);
                var reply = ContractJson.Deserialize<RpcReply>(message.Payload.ToArray())!;
                var n = BitConverter.ToInt32(message.CorrelationData);
                Assert.False(reply.ServedBy is null, $"reply {reply.Seq} to request {n} does not name its hub");
                if (reply.Final)
                {
                    Assert.True(reply.Error is null, $"request {n}: {reply.Error?.Code} {reply.Error?.Message}");
                    Assert.True(served.TryAdd(n, reply.ServedBy!), $"request {n} was answered twice");
                    texts.Add(RpcMethods.AsrTranscribe.ReadResult(reply)!.Text);
                }
            }

            var spread = served.Values.GroupBy(h => h).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}").ToList();
            output.WriteLine($"{Requests} asr.transcribe requests on the fleet topic, served by {string.Join(", ", spread)}");
            Assert.Equal(["hub-0", "hub-1", "hub-2"], served.Values.Distinct().Order(StringComparer.Ordinal));
            Assert.Single(texts); // the same audio and the same forged model on every hub

            // A method that keeps state is served on a device's own topic only.
            var stateful = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-2"));
            await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, RpcMethods.ModelsList.Name))
                .WithPayload("{}"u8.ToArray()).WithResponseTopic(stateful.Topic)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            var refused = ContractJson.Deserialize<RpcReply>((await stateful.NextAsync()).Payload)!;
            Assert.Equal(RpcErrorCodes.MethodNotFound, refused.Error?.Code);
            Assert.Contains(RpcMethods.AsrTranscribe.Name, refused.Error!.Message, StringComparison.Ordinal);
            Assert.StartsWith("hub-", refused.ServedBy, StringComparison.Ordinal);
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Voice_commands_on_the_fleet_topic_are_served_by_the_hubs_in_turn_each_naming_itself()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var profile = TestProfiles.Write(p => TestProfiles.TakeFrom(p, "rk3588-tv", "commands"));
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Profile={profile}", $"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"]));
            }

            await using var app = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, FleetGroup = Group });
            var servedBy = new List<string>();
            for (var n = 0; n < 8; n++)
            {
                var reply = await app.CallInFleetAsync(RpcMethods.VoiceText.Name, JsonSerializer.SerializeToUtf8Bytes(new VoiceTextParams { Text = $"set the volume to {n + 10}" }, ContractJsonContext.Default.VoiceTextParams));
                var intent = RpcMethods.VoiceText.ReadResult(reply)!;
                Assert.Equal(("volume_set", (long)(n + 10)), (intent.Intent, intent.Slots["level"]!.GetValue<long>()));
                servedBy.Add(reply.ServedBy!);
            }

            output.WriteLine($"voice.text on the fleet topic served by {string.Join(", ", servedBy)}");
            Assert.Equal(["hub-0", "hub-1"], servedBy.Distinct().Order(StringComparer.Ordinal));

            // From the fleet topic a command is only interpreted: the first intent on any hub's voice/intents is that of
            // a command sent afterwards to hub-0's own topic (had the fleet's been published, they would come first).
            await using var intents = await app.SubscribeAsync(Topics.VoiceIntents("+"));
            await using var onHub = await hubs[0].ConnectAsync();
            var direct = (await onHub.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "mute" })).Value!;
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            Assert.Equal(direct.UtteranceId, (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.UtteranceId);
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A retained request on the fleet topic (a home-automation tool that retains its commands) would run again on every
    /// hub that joins: it is answered <c>retained_request</c>, not executed, and the hub clears it from the broker.
    /// </summary>
    [Fact]
    public async Task A_retained_fleet_request_is_not_executed_and_is_cleared()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        using var app = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
        var replies = await app.SubscribeAsync(Topics.FleetReplies(Group, "app-1"));
        var topic = Topics.FleetRpc(Group, "test.echo");
        await app.PublishAsync(Request(topic, n: 1, replies.Topic, retain: true));

        await using var hub = await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-0"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>());
        await hub.WaitForLogAsync(m => m.Contains($"Retained test.echo request on {topic} refused and cleared", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        var refusal = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
        Assert.Equal((RpcErrorCodes.RetainedRequest, "hub-0"), (refusal.Error?.Code, refusal.ServedBy));

        // Had the retained request run, its result would come before this one's.
        await app.PublishAsync(Request(topic, n: 2, replies.Topic, retain: false));
        var reply = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
        Assert.Equal(2, reply.Result!.Value.GetProperty("n").GetInt32());

        // Cleared: a new subscriber gets the next request on the topic, not the retained one.
        using var joining = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
        var requests = await joining.SubscribeAsync(topic);
        await app.PublishAsync(Request(topic, n: 3, replies.Topic, retain: false));
        var (payload, retained) = await requests.NextAsync();
        Assert.False(retained, "the retained request is still on the broker");
        Assert.Equal("{\"n\":3}", Encoding.UTF8.GetString(payload));

        static MqttApplicationMessage Request(string topic, int n, string responseTopic, bool retain) =>
            new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"))
                .WithResponseTopic(responseTopic).WithRetainFlag(retain)
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build();
    }

    /// <summary>
    /// A hub lost while it serves: hub-0 takes fleet requests and never answers. The client sends a request again with
    /// the same idempotency key when no reply comes within its deadline, and the broker gives it to another hub: every
    /// request is answered, none by the lost hub.
    /// </summary>
    [Fact]
    public async Task A_request_a_lost_hub_took_is_answered_by_another_hub_on_the_clients_retry()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var lost = new LostEchoMethod();
        var hubs = new List<RunningDaemon>();
        try
        {
            hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-0"], builder => builder.Services.AddSingleton<IRpcMethod>(lost)));
            for (var i = 1; i < 3; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>()));
            }

            await using var app = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = "hub-1", FleetGroup = Group });
            var servedBy = new List<string>();
            for (var n = 0; n < 6; n++)
            {
                var reply = await app.CallInFleetAsync("test.echo", Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"), attempts: 3, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(2) });
                Assert.Equal(n, reply.Result!.Value.GetProperty("n").GetInt32());
                servedBy.Add(reply.ServedBy!);
            }

            output.WriteLine($"served by {string.Join(", ", servedBy)}; the lost hub took {lost.Taken}");
            Assert.DoesNotContain("hub-0", servedBy);
            Assert.True(lost.Taken >= 1, "the lost hub was never given a request, so no retry was needed");
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A hub SIGKILLed (a power cut) while it holds a meeting and has <c>asr.transcribe</c> requests from the fleet topic
    /// in hand. Its last will marks it offline; the client's retries (same idempotency key) are served by the other
    /// hubs, and every request completes once; new meetings go to the other hubs; and when the hub comes back, its
    /// meeting resumes from its journal and completes with every frame, as do the meetings on the other hubs.
    /// </summary>
    [Fact]
    public async Task A_hub_killed_with_a_meeting_and_requests_in_hand_loses_neither()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var profile = models.Profile();
        string[] victimArgs =
        [
            "--Mqtt:Mode=External", $"--Mqtt:External:Host={mosquitto.Host}", $"--Mqtt:External:Port={mosquitto.Port}", $"--Fleet:Group={Group}",
            "--Device:Id=hub-0", $"--Profile={profile}", $"--Meetings:Root={Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"))}",
            "--Rpc:MaxConcurrent=1", // one request at a time, so that the kill finds the others waiting
        ];
        var victim = DaemonProcess.Start(victimArgs);
        var hubs = new List<RunningDaemon>();
        try
        {
            await victim.WaitReadyAsync(TimeSpan.FromSeconds(60));
            for (var i = 1; i < 3; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Profile={profile}", $"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"]));
            }

            using var watcher = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
            var requestsSeen = await watcher.SubscribeAsync(Topics.FleetRpc(Group, RpcMethods.AsrTranscribe.Name));
            var repliesSeen = await watcher.SubscribeAsync($"{Topics.Root}/fleet/{Group}/replies/#");
            var victimStatus = await watcher.SubscribeAsync(Topics.Status("hub-0"));
            await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = "hub-0", FleetGroup = Group });

            // Three meetings, one on each hub (Mosquitto rotates), half their audio streamed.
            var frames = SpokenAudio.PcmFrames(SpokenAudio.Repeated(models.Root, "Ana will send the budget by Friday.", 4));
            var half = frames.Count / 2;
            var placed = new List<(string Session, string Hub)>();
            for (var i = 0; i < 3; i++)
            {
                var (hub, start) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = $"room-{i}", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
                Assert.True(start.Error is null, $"room-{i}: {start.Error?.Code} {start.Error?.Message}");
                placed.Add(($"room-{i}", hub!));
            }

            Assert.Equal(["hub-0", "hub-1", "hub-2"], placed.Select(p => p.Hub).Order(StringComparer.Ordinal));
            await StreamAsync(earbuds, placed, frames, 0, half);
            var held = placed.Single(p => p.Hub == "hub-0").Session;
            await MeetingTests.WaitForAsync(earbuds, held, m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == half);

            // Requests in hand: once the broker has handed out all of them (hub-0 gets every third, and serves one at a
            // time), the kill comes as hub-0 begins the first: the rest wait in its queue.
            const int Requests = 9;
            var audio = Transcribe(seconds: 4);
            var calls = Enumerable.Range(0, Requests)
                .Select(i => earbuds.CallInFleetAsync(RpcMethods.AsrTranscribe.Name, audio, attempts: 3, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(15), IdempotencyKey = $"clip-{i}" }))
                .ToList();
            var sent = new Dictionary<string, int>(StringComparer.Ordinal);
            async Task<string> NextRequestKeyAsync()
            {
                var key = UserProperties.Read((await requestsSeen.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20))).UserProperties, UserProperties.IdempotencyKey)!;
                sent[key] = sent.GetValueOrDefault(key) + 1;
                return key;
            }

            for (var i = 0; i < Requests; i++)
            {
                await NextRequestKeyAsync();
            }

            while (ContractJson.Deserialize<RpcReply>((await repliesSeen.NextAsync()).Payload) is not { ServedBy: "hub-0", Delta: { } delta } || delta.GetProperty("type").GetString() != "started")
            {
            }

            await victim.KillAsync();
            while (JsonDocument.Parse((await victimStatus.NextAsync()).Payload).RootElement.GetProperty("online").GetBoolean())
            {
            }

            // New meetings go to the hubs that are left.
            for (var i = 3; i < 5; i++)
            {
                var (hub, start) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = $"room-{i}", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
                Assert.True(start.Error is null, $"room-{i}: {start.Error?.Code} {start.Error?.Message}");
                Assert.NotEqual("hub-0", hub);
                placed.Add(($"room-{i}", hub!));
            }

            // Every attempt the client made, counted as the broker passed it on: a marker published after the last
            // answer comes after every retry (one publisher's messages keep their order). No hub runs it: it asks for no reply.
            var answers = await Task.WhenAll(calls);
            await earbuds.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, RpcMethods.AsrTranscribe.Name)).WithPayload("{}"u8.ToArray())
                .WithUserProperty(UserProperties.IdempotencyKey, "end"u8.ToArray().AsMemory()).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            while (await NextRequestKeyAsync() != "end")
            {
            }

            output.WriteLine(string.Join(", ", answers.Select((a, i) => $"clip-{i}: sent {sent[$"clip-{i}"]} time(s), served by {a.ServedBy}")));
            Assert.All(answers, a => Assert.True(a.Error is null, $"{a.Error?.Code} {a.Error?.Message}"));
            Assert.Single(answers.Select(a => RpcMethods.AsrTranscribe.ReadResult(a)!.Text).Distinct(StringComparer.Ordinal));
            var retried = Enumerable.Range(0, Requests).Where(i => sent[$"clip-{i}"] > 1).ToList();
            Assert.True(retried.Count >= 2, $"{retried.Count} request(s) retried: hub-0 should have held one running and more waiting when it was killed");
            Assert.All(retried, i => Assert.NotEqual("hub-0", answers[i].ServedBy));

            // hub-0 comes back: its meeting resumes from the journal and completes, as do the others.
            await using var back = DaemonProcess.Start(victimArgs);
            await back.WaitReadyAsync(TimeSpan.FromSeconds(60));
            Assert.Contains("resumed after a restart", back.Output, StringComparison.Ordinal);
            Assert.Equal(half, (await MeetingTests.WaitForAsync(earbuds, held, _ => true)).GetProperty("counters").GetProperty("accepted").GetInt64());
            await StreamAsync(earbuds, placed.Take(3), frames, half, frames.Count);
            await StreamAsync(earbuds, placed.Skip(3), frames, 0, frames.Count);
            foreach (var (session, hub) in placed)
            {
                await using var onHub = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = hub });
                var stopped = await onHub.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = session, LastSequence = frames.Count - 1 });
                Assert.True(stopped.Error is null, $"{session} on {hub}: {stopped.Error?.Code} {stopped.Error?.Message}");
                Assert.Empty(stopped.Value!.Gaps!);
                Assert.Equal(frames.Count, (await onHub.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting.Counters.Accepted);
            }
        }
        finally
        {
            await victim.DisposeAsync();
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }

        static async Task StreamAsync(ApplianceClient earbuds, IEnumerable<(string Session, string Hub)> meetings, List<byte[]> frames, int from, int to)
        {
            foreach (var (session, hub) in meetings)
            {
                for (var seq = from; seq < to; seq++)
                {
                    await earbuds.PublishAsync(MeetingAudioFrame.Create(hub, session, seq, AudioCodecs.PcmS16LE, frames[seq]));
                }
            }
        }
    }

    /// <summary>
    /// A hub whose request queue is full answers busy; the client sends the request again for the broker to give it to
    /// the next hub. hub-0 serves one request at a time, hangs on it and queues one more; ten requests on the fleet topic
    /// fill it. Of two calls after that, the broker gives one first to hub-0 (it alternates), and both are served by hub-1
    /// (should hub-0 still have had room for one, that call's retry after its time-out gets there too).
    /// </summary>
    [Fact]
    public async Task A_request_a_full_hub_answers_busy_is_served_by_another_on_the_clients_retry()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var full = new LostEchoMethod();
        var hubs = new List<RunningDaemon>();
        try
        {
            hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-0", "--Rpc:MaxConcurrent=1", "--Rpc:QueueCapacity=1"], builder => builder.Services.AddSingleton<IRpcMethod>(full)));
            hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-1"], builder => builder.Services.AddSingleton<IRpcMethod, EchoMethod>()));
            using var app = await BrokerEdgeCaseTests.RawClient.ConnectAsync(mosquitto.Host, mosquitto.Port);
            var replies = await app.SubscribeAsync(Topics.FleetReplies(Group, "filler"));
            for (var i = 0; i < 10; i++)
            {
                await app.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetRpc(Group, "test.echo")).WithPayload("{}"u8.ToArray())
                    .WithResponseTopic(replies.Topic).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }

            // hub-1 answers its five; hub-0 holds one or two (one hanging, one queued, depending on whether its worker
            // took the first before the second came) and answers the rest busy: three or four.
            var (answered, busy) = (0, 0);
            while (answered < 5 || busy < 3)
            {
                var reply = ContractJson.Deserialize<RpcReply>((await replies.NextAsync()).Payload)!;
                (answered, busy) = reply.Error?.Code == RpcErrorCodes.Busy ? (answered, busy + 1) : (answered + 1, busy);
            }

            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, FleetGroup = Group });
            for (var n = 0; n < 2; n++)
            {
                var reply = await client.CallInFleetAsync("test.echo", Encoding.UTF8.GetBytes($"{{\"n\":{n}}}"), attempts: 2, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(10) });
                Assert.True(reply.Error is null, $"{reply.Error?.Code} {reply.Error?.Message}");
                Assert.Equal(("hub-1", n), (reply.ServedBy, reply.Result!.Value.GetProperty("n").GetInt32()));
            }
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Meetings placed across the fleet: three hubs of capacities 1, 2 and 3 take six meetings started on the fleet topic,
    /// as many each as it has places (a full hub answers busy and the client asks again, for the broker to give the start
    /// to another hub); the seventh is refused busy. Each meeting streams to the hub that took it and loses no frame.
    /// </summary>
    [Fact]
    public async Task Meetings_started_on_the_fleet_fill_every_hub_up_to_its_capacity_and_lose_nothing()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var capacity = i + 1;
                var profile = TestProfiles.Write(p => p["meetings"] = new System.Text.Json.Nodes.JsonObject { ["capacity"] = capacity });
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Profile={profile}", $"--Fleet:Group={Group}", $"--Device:Id=hub-{i}"]));
            }

            await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = "hub-0", FleetGroup = Group });
            var placed = new List<(string Session, string Hub)>();
            for (var i = 0; i < 6; i++)
            {
                var session = $"room-{i}";
                var (hub, result) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
                Assert.True(result.Error is null, $"{session}: {result.Error?.Code} {result.Error?.Message}");
                placed.Add((session, hub!));
            }

            var (none, full) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = "room-6", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            output.WriteLine(string.Join(", ", placed.Select(p => $"{p.Session} on {p.Hub}")));
            Assert.Null(none);
            Assert.Equal(RpcErrorCodes.Busy, full.Error?.Code);
            Assert.Equal([("hub-0", 1), ("hub-1", 2), ("hub-2", 3)], placed.GroupBy(p => p.Hub).Select(g => (g.Key, g.Count())).OrderBy(g => g.Key, StringComparer.Ordinal));

            foreach (var (session, hub) in placed)
            {
                for (var seq = 0; seq < 50; seq++)
                {
                    await earbuds.PublishAsync(MeetingAudioFrame.Create(hub, session, seq, AudioCodecs.PcmS16LE, new byte[640]));
                }
            }

            foreach (var (session, hub) in placed)
            {
                await using var onHub = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, DeviceId = hub });
                var stopped = await onHub.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = session, LastSequence = 49 });
                Assert.Null(stopped.Error);
                Assert.Empty(stopped.Value!.Gaps!);
                Assert.Equal(50, (await onHub.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting.Counters.Accepted);
            }
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// The operators' view of a group: <c>fleet.status</c>, asked on the fleet topic, lists every hub of the group from
    /// the retained status documents (a hub that stopped stays listed offline with its reason; a device of no group is
    /// left out) with each hub's load; the <c>fleet-view</c> command prints the same from the broker; a device in no
    /// group answers <c>unavailable</c>.
    /// </summary>
    [Fact]
    public async Task Fleet_status_and_the_fleet_view_list_every_hub_of_the_group_with_its_load()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", $"--Device:Id=hub-{i}", "--Status:RefreshSeconds=1"]));
            }

            await using var loner = await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, ["--Device:Id=loner"]);
            await (await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-gone"])).DisposeAsync();
            await using (var onHub = await hubs[0].ConnectAsync())
            {
                Assert.Null((await onHub.ControlMeetingAsync("room-1", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
            }

            await using var operatorClient = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, FleetGroup = Group });
            FleetStatusResult fleet;
            var watch = System.Diagnostics.Stopwatch.StartNew();
            do
            {
                var reply = await operatorClient.CallInFleetAsync(RpcMethods.FleetStatus.Name, "{}"u8.ToArray());
                fleet = RpcMethods.FleetStatus.ReadResult(reply)!;
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"hub-0's status never showed its meeting: {JsonSerializer.Serialize(fleet, ContractJsonContext.Default.FleetStatusResult)}");
            }
            while (fleet.Devices.FirstOrDefault(d => d.DeviceId == "hub-0")?.Load?.Meetings != 1 || fleet.Devices.Count != 3);

            Assert.Equal(Group, fleet.Group);
            Assert.Equal(["hub-0", "hub-1", "hub-gone"], fleet.Devices.Select(d => d.DeviceId));
            Assert.Equal([true, true, false], fleet.Devices.Select(d => d.Online));
            Assert.Equal("shutdown", fleet.Devices[2].Reason);
            Assert.All(fleet.Devices, d => Assert.Equal(Group, d.FleetGroup));
            Assert.Equal(new DeviceLoad(1, 192, 0, 0, 0), fleet.Devices[0].Load! with { RpcRunning = 0, CpuPercent = 0 });

            // fleet-view reads the retained documents, which carry the load as of each hub's last refresh (1 s here);
            // fleet.status may have been answered by hub-0 itself from its live load, so wait for a refresh to show it.
            StringWriter printed;
            watch.Restart();
            do
            {
                printed = new StringWriter();
                Assert.Equal(0, await Appliance.FleetView.FleetViewCli.InvokeAsync(["--host", mosquitto.Host, "--port", $"{mosquitto.Port}", "--group", Group, "--once"], PlainConsole.Create(printed)));
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the retained status never showed hub-0's meeting:\n{printed}");
            }
            while (!printed.ToString().Contains("1/192", StringComparison.Ordinal));

            output.WriteLine(printed.ToString());
            Assert.Contains($"fleet {Group}: 2 of 3 online", printed.ToString(), StringComparison.Ordinal);
            Assert.Contains("offline shutdown", printed.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("loner", printed.ToString(), StringComparison.Ordinal);

            var none = new StringWriter();
            var noneConsole = PlainConsole.Create(none);
            Assert.Equal(1, await Appliance.FleetView.FleetViewCli.InvokeAsync(["--host", mosquitto.Host, "--port", $"{mosquitto.Port}", "--group", "nobody", "--once"], noneConsole));
            Assert.Contains("No device of group nobody", none.ToString(), StringComparison.Ordinal);

            await using var lonerClient = await loner.ConnectAsync();
            Assert.Equal(RpcErrorCodes.Unavailable, (await lonerClient.InvokeAsync(RpcMethods.FleetStatus, new EmptyParams())).Error?.Code);
        }
        finally
        {
            foreach (var hub in hubs)
            {
                await hub.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// docs/fleet.md's Mosquitto configuration and ACL, run as written (TLS aside): hubs that log in with their device
    /// id serve the group's fleet topic, the earbuds' account asks the fleet, places a meeting and streams to the hub
    /// that took it, the operator's account reads the fleet view; the earbuds' account cannot ask another group, and a
    /// device of no group can neither read the group's requests nor publish a reply in its name.
    /// </summary>
    [Fact]
    public async Task The_documented_mosquitto_set_up_lets_hubs_serve_the_group_and_no_one_else()
    {
        const string Site = "office-3";
        var folder = Path.Combine(Path.GetTempPath(), "fleet-doc-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        var document = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "docs", "fleet.md"));
        var passwords = Path.Combine(folder, "passwd");
        var acl = Path.Combine(folder, "appliance.acl");
        await File.WriteAllTextAsync(acl, CodeBlock(document, "# /etc/mosquitto/appliance.acl"));
        string[] accounts = ["hub-0", "hub-1", "earbuds-office-3", "operator", "tv-9"];
        foreach (var account in accounts)
        {
            await RunAsync("mosquitto_passwd", account == accounts[0] ? ["-c", "-b", passwords, account, $"pw-{account}"] : ["-b", passwords, account, $"pw-{account}"]);
        }

        // The broker's set-up as documented, less what needs a certificate or a data folder.
        var settings = string.Join('\n', CodeBlock(document, "# /etc/mosquitto/conf.d/appliance.conf").Split('\n')
            .Where(l => !l.StartsWith("listener ", StringComparison.Ordinal) && !l.StartsWith("certfile ", StringComparison.Ordinal) && !l.StartsWith("keyfile ", StringComparison.Ordinal) && !l.StartsWith("persistence ", StringComparison.Ordinal))
            .Select(l => l.StartsWith("password_file ", StringComparison.Ordinal) ? $"password_file {passwords}" : l.StartsWith("acl_file ", StringComparison.Ordinal) ? $"acl_file {acl}" : l));
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync(settings + "\npersistence false\n");
        var hubs = new List<RunningDaemon>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                hubs.Add(await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Site}", $"--Device:Id=hub-{i}", $"--Mqtt:External:Username=hub-{i}", $"--Mqtt:External:Password=pw-hub-{i}"]));
            }

            await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, Username = "earbuds-office-3", Password = "pw-earbuds-office-3", FleetGroup = Site });
            var fleet = RpcMethods.FleetStatus.ReadResult(await earbuds.CallInFleetAsync(RpcMethods.FleetStatus.Name, "{}"u8.ToArray()))!;
            Assert.Equal(["hub-0", "hub-1"], fleet.Devices.Select(d => d.DeviceId));
            Assert.All(fleet.Devices, d => Assert.Equal(HealthStatus.Ok, d.Health?.Checks["mqtt"].Status));

            var (hub, start) = await earbuds.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = "standup", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            Assert.True(start.Error is null, $"{start.Error?.Code} {start.Error?.Message}");
            for (var seq = 0; seq < 20; seq++)
            {
                await earbuds.PublishAsync(MeetingAudioFrame.Create(hub!, "standup", seq, AudioCodecs.PcmS16LE, new byte[640]));
            }

            await using (var onHub = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, Username = "earbuds-office-3", Password = "pw-earbuds-office-3", DeviceId = hub }))
            {
                var stopped = await onHub.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = "standup", LastSequence = 19 });
                Assert.True(stopped.Error is null, $"{stopped.Error?.Code} {stopped.Error?.Message}");
                Assert.Empty(stopped.Value!.Gaps!);
            }

            var printed = new StringWriter();
            Assert.Equal(0, await Appliance.FleetView.FleetViewCli.InvokeAsync(["--host", mosquitto.Host, "--port", $"{mosquitto.Port}", "--group", Site, "--username", "operator", "--password", "pw-operator", "--once"], PlainConsole.Create(printed)));
            Assert.Contains($"fleet {Site}: 2 of 2 online", printed.ToString(), StringComparison.Ordinal);

            await using var stranger = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, Username = "earbuds-office-3", Password = "pw-earbuds-office-3", FleetGroup = "office-4" });
            var refused = await Assert.ThrowsAsync<ApplianceClientException>(() => stranger.CallInFleetAsync(RpcMethods.FleetStatus.Name, "{}"u8.ToArray()));
            Assert.Contains("NotAuthorized", refused.Message, StringComparison.Ordinal);

            await using var tv = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = mosquitto.Host, Port = mosquitto.Port, Username = "tv-9", Password = "pw-tv-9", DeviceId = "tv-9" });
            // Mosquitto's acl_file grants the subscription and checks each delivery: the stranger reads none of the
            // group's requests, but the ones the broker picks it for are lost (see docs/fleet.md), and the client's
            // retries get every one answered by a hub.
            await using (var joined = await tv.SubscribeAsync(Topics.FleetRpcSharedFilter(Site)))
            {
                for (var i = 0; i < 4; i++)
                {
                    Assert.Null((await earbuds.CallInFleetAsync(RpcMethods.FleetStatus.Name, "{}"u8.ToArray(), attempts: 3, new RpcCallOptions { Timeout = TimeSpan.FromSeconds(3) })).Error);
                }

                await using var own = await tv.SubscribeAsync(Topics.Status("tv-9"));
                await tv.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.Status("tv-9")).WithPayload("{}"u8.ToArray()).WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
                using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await own.ReadAsync(wait.Token); // delivered after anything the broker had for the stranger before it
                using var none = new CancellationTokenSource();
                await none.CancelAsync();
                await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await joined.ReadAsync(none.Token));
            }

            var forged = await tv.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.FleetReplies(Site, "client-1")).WithPayload("{}"u8.ToArray())
                .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, forged.ReasonCode);
        }
        finally
        {
            foreach (var h in hubs)
            {
                await h.DisposeAsync();
            }

            Directory.Delete(folder, recursive: true);
        }

        static async Task RunAsync(string program, string[] arguments)
        {
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"{program}: {await process.StandardError.ReadToEndAsync()}");
        }
    }

    /// <summary>
    /// A broker that refuses shared subscriptions (here another daemon's embedded MQTTnet broker, which answers SUBACK
    /// 0x9E) leaves the hub serving its own topics, with the <c>mqtt</c> health check and the log saying why the fleet
    /// topic is not served.
    /// </summary>
    [Fact]
    public async Task A_broker_that_refuses_shared_subscriptions_is_named_in_health_and_the_log()
    {
        await using var broker = await RunningDaemon.StartEmbeddedAsync(output);
        await using var hub = await RunningDaemon.StartExternalAsync(output, broker.BrokerHost, broker.BrokerPort, [$"--Fleet:Group={Group}", "--Device:Id=hub-x"]);
        hub.AllowErrors = true;
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.BrokerHost, Port = broker.BrokerPort, DeviceId = "hub-x" });
        await hub.WaitForLogAsync(m => m.Contains($"$share/{Group}/", StringComparison.Ordinal) && m.Contains("shared subscriptions", StringComparison.Ordinal), TimeSpan.FromSeconds(20));

        var health = await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams());
        var mqtt = health.Value!.Checks["mqtt"];
        Assert.Equal(HealthStatus.Degraded, mqtt.Status);
        Assert.Contains("does not serve MQTT 5 shared subscriptions", mqtt.Detail, StringComparison.Ordinal);
        Assert.True((await client.InvokeAsync(RpcMethods.StatusGet, new EmptyParams())).Value!.Online, "the hub still serves its own topics");
        var start = await client.ControlMeetingAsync("m1", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
        Assert.Null(start.Error);
    }

    /// <summary>
    /// Two hubs given the same device id (a cloned image) take the broker session from each other: each says so in its
    /// log, naming the device id, instead of dropping off without a word.
    /// </summary>
    [Fact]
    public async Task Two_hubs_with_the_same_device_id_each_name_it_in_the_log()
    {
        await using var mosquitto = await MosquittoBroker.StartPrivateAsync();
        await using var first = await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-twin"]);
        await using var second = await RunningDaemon.StartExternalAsync(output, mosquitto.Host, mosquitto.Port, [$"--Fleet:Group={Group}", "--Device:Id=hub-twin"]);
        first.AllowErrors = second.AllowErrors = true;

        foreach (var hub in new[] { first, second })
        {
            await hub.WaitForLogAsync(m => m.Contains("is the device id hub-twin used twice?", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        }
    }

    [Theory]
    [InlineData("--Mqtt:Mode=Embedded", "hubs", "needs an external broker")]
    [InlineData("--Mqtt:Mode=External", "a+b", "is not a valid group name")]
    [InlineData("--Mqtt:Mode=External", "fleet", "is not a valid group name")]
    public async Task A_fleet_the_set_up_cannot_serve_stops_the_start_with_the_reason(string mode, string group, string reason)
    {
        await using var daemon = DaemonProcess.Start(mode, "--Mqtt:Broker:Port=0", "--Mqtt:External:Port=1", $"--Fleet:Group={group}");

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(reason, daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>An <c>asr.transcribe</c> request for <paramref name="seconds"/> of speech as 16 kHz s16le PCM.</summary>
    private byte[] Transcribe(double seconds)
    {
        var pcm = SpokenAudio.Pcm16(SpokenAudio.Repeated(models.Root, "The quarterly meeting will review the budget and the new fridge line.", seconds));
        return System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new AsrTranscribeParams { Audio = Convert.ToBase64String(pcm), Format = "s16le", SampleRate = 16000, Language = "en" }, RpcMethods.AsrTranscribe.ParamsInfo);
    }

    /// <summary>The text of the fenced code block whose first line is <paramref name="firstLine"/>.</summary>
    private static string CodeBlock(string markdown, string firstLine)
    {
        var start = markdown.IndexOf("```conf\n" + firstLine + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"docs/fleet.md has no conf block starting {firstLine}");
        start += "```conf\n".Length;
        return markdown[start..markdown.IndexOf("```", start, StringComparison.Ordinal)];
    }

    /// <summary>The folder holding Appliance.sln, above the test's build output.</summary>
    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Appliance.sln")))
            {
                return directory.FullName;
            }
        }

        throw new DirectoryNotFoundException($"no Appliance.sln above {AppContext.BaseDirectory}");
    }
}
