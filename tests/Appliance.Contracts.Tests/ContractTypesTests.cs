using System.Text;
using System.Text.Json;
using MQTTnet.Protocol;

namespace Appliance.Contracts.Tests;

/// <summary>The contract's topics, identifiers, codecs and wire shapes, as a client and the daemon both use them.</summary>
public sealed class ContractTypesTests
{
    [Fact]
    public void Topics_are_built_and_read_back_for_one_device_only()
    {
        Assert.True(Topics.TryGetRpcMethod(Topics.Rpc("tv-1", "llm.chat"), "tv-1", out var method));
        Assert.Equal("llm.chat", method);
        Assert.False(Topics.TryGetRpcMethod(Topics.Rpc("tv-2", "llm.chat"), "tv-1", out _));
        Assert.False(Topics.TryGetRpcMethod(Topics.Rpc("tv-1", "llm.chat") + "/extra", "tv-1", out _));
        foreach (var kind in Enum.GetValues<MeetingTopic>())
        {
            var topic = kind switch
            {
                MeetingTopic.Control => Topics.MeetingControl("hub", "standup-1"),
                MeetingTopic.Audio => Topics.MeetingAudio("hub", "standup-1"),
                MeetingTopic.Transcript => Topics.MeetingTranscript("hub", "standup-1"),
                MeetingTopic.Progress => Topics.MeetingProgress("hub", "standup-1"),
                _ => Topics.MeetingSummary("hub", "standup-1"),
            };
            Assert.True(Topics.TryGetMeetingSession(topic, "hub", kind, out var session));
            Assert.Equal("standup-1", session);
            Assert.Equal(MQTTnet.MqttTopicFilterCompareResult.IsMatch, MQTTnet.MqttTopicFilterComparer.Compare(topic, Topics.MeetingFilter("hub", kind)));
        }

        Assert.False(Topics.TryGetMeetingSession("appliance/v1/hub/meetings/a/b/audio", "hub", MeetingTopic.Audio, out _));
        Assert.False(Topics.TryGetMeetingSession(Topics.MeetingAudio("hub", "s"), "hub", MeetingTopic.Control, out _));
        Assert.True(Topics.TryUnwrapSharedSubscription("$share/hubs/appliance/v1/hub/rpc/+", out var inner));
        Assert.Equal(Topics.RpcFilter("hub"), inner);
        Assert.False(Topics.TryUnwrapSharedSubscription("$share/hubs", out _));
    }

    [Theory]
    [InlineData("standup-1", true, true, true)]
    [InlineData("_hidden", true, false, false)]
    [InlineData("a/b", false, false, false)]
    [InlineData("+", false, false, false)]
    [InlineData("#", false, false, false)]
    [InlineData("", false, false, false)]
    [InlineData("qwen2.5-0.5b", false, false, true)]
    [InlineData(".hidden", false, false, false)]
    [InlineData("..", false, false, false)]
    [InlineData("tab\there", false, false, false)]
    [InlineData("x123456789x123456789x123456789x123456789x123456789x123456789abcd", true, true, true)]
    [InlineData("x123456789x123456789x123456789x123456789x123456789x123456789abcde", false, false, true)]
    public void Identifiers_that_become_topic_levels_and_folders_are_checked_in_one_place(string id, bool device, bool session, bool model)
    {
        Assert.Equal(device, Identifiers.IsValidDeviceId(id));
        Assert.Equal(session, Identifiers.IsValidSessionId(id));
        Assert.Equal(model, Identifiers.IsValidModelId(id));
    }

    /// <summary>The client library refuses an id that would become a wildcard or a separator in a topic, before it connects or publishes.</summary>
    [Fact]
    public async Task The_client_library_refuses_ids_that_are_not_one_topic_level()
    {
        var noDevice = await Assert.ThrowsAsync<ArgumentException>(() => ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = 1, DeviceId = "+" }));
        var noClient = await Assert.ThrowsAsync<ArgumentException>(() => ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = 1, DeviceId = "tv-1", ClientId = "ha/#" }));
        var noSession = Assert.Throws<ArgumentException>(() => MeetingAudioFrame.Create("tv-1", "a/b", 0, AudioCodecs.Opus, new byte[] { 0xF8 }));

        Assert.Contains(Identifiers.DeviceIdDescription, noDevice.Message, StringComparison.Ordinal);
        Assert.Contains("client id", noClient.Message, StringComparison.Ordinal);
        Assert.Contains(Identifiers.SessionIdDescription, noSession.Message, StringComparison.Ordinal);
        Assert.Equal(Topics.MeetingAudio("tv-1", "standup-1"), MeetingAudioFrame.Create("tv-1", "standup-1", 0, AudioCodecs.Opus, new byte[] { 0xF8 }).Topic);
    }

    [Fact]
    public void The_device_profile_schema_checks_device_and_model_ids_by_the_same_rules()
    {
        using var schema = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "device-profiles", "device-profile.schema.json")));
        var root = schema.RootElement;

        Assert.Equal(Identifiers.DeviceIdRule, root.GetProperty("properties").GetProperty("deviceId").GetProperty("pattern").GetString());
        Assert.Equal(Identifiers.ModelIdRule, root.GetProperty("$defs").GetProperty("model").GetProperty("properties").GetProperty("id").GetProperty("pattern").GetString());
    }

    [Fact]
    public void Codecs_name_what_cannot_be_decoded()
    {
        Assert.Null(AudioCodecs.Problem(AudioCodecs.PcmS16LE, 44100, 6));
        Assert.Null(AudioCodecs.Problem(AudioCodecs.Opus, 16000, 2));
        Assert.Contains("48000", AudioCodecs.Problem(AudioCodecs.Opus, 44100, 1), StringComparison.Ordinal);
        Assert.NotNull(AudioCodecs.Problem(AudioCodecs.Opus, 48000, 3));
        Assert.Contains(AudioCodecs.PcmS16LE, AudioCodecs.Problem("mp3", 16000, 1), StringComparison.Ordinal);

        // The rates the contract accepts are the ones the device's decoder takes.
        Assert.Equal(Audio.OpusFrameDecoder.SampleRates, AudioCodecs.OpusSampleRates);
    }

    [Fact]
    public void A_control_command_is_the_meetings_method_with_the_session_of_its_topic()
    {
        var start = new MeetingControl { Action = "start", Codec = AudioCodecs.Opus, SampleRate = 48000, Language = "en", Participants = ["Ana"] }.ToRequest("standup-1")!.Value;
        Assert.Equal(RpcMethods.MeetingsStart.Name, start.Method);
        var parameters = RpcMethods.MeetingsStart.DeserializeParams(start.Params)!;
        Assert.Equal(("standup-1", AudioCodecs.Opus, 48000, "en"), (parameters.SessionId, parameters.Codec, parameters.SampleRate, parameters.Language));
        Assert.Equal(new MeetingParameters(AudioCodecs.Opus, 48000, 1, "en", ["Ana"]), parameters.ToParameters());

        var stop = new MeetingControl { Action = "stop", LastSequence = 4711 }.ToRequest("standup-1")!.Value;
        Assert.Equal((RpcMethods.MeetingsStop.Name, 4711L), (stop.Method, RpcMethods.MeetingsStop.DeserializeParams(stop.Params)!.LastSequence));
        Assert.Equal(RpcMethods.MeetingsAbort.Name, new MeetingControl { Action = "abort" }.ToRequest("s")!.Value.Method);
        Assert.Null(new MeetingControl { Action = "pause" }.ToRequest("s"));
        Assert.Null(new MeetingControl().ToRequest("s"));
    }

    [Fact]
    public void Streamed_parts_and_events_carry_their_kind_in_type_and_read_back()
    {
        var wake = Channels.VoiceEvents.Serialize(new WakeWordEvent { Word = "hey_jarvis", Score = 0.98, AudioTime = 1.8, At = DateTimeOffset.UnixEpoch });
        using (var json = JsonDocument.Parse(wake))
        {
            Assert.Equal("wake_word", json.RootElement.GetProperty("type").GetString());
            Assert.Equal("type", json.RootElement.EnumerateObject().First().Name);
        }

        Assert.IsType<WakeWordEvent>(ContractJson.Deserialize<VoiceEvent>(wake));
        var delta = RpcMethods.LlmChat.SerializeDelta(new LlmChatAnswer("Setting"));
        Assert.Equal("answer", delta.GetProperty("type").GetString());
        Assert.Equal(new LlmChatAnswer("Setting"), RpcMethods.LlmChat.ReadDelta(new RpcReply { Delta = delta }));
        Assert.Equal("maxTokens", ContractJson.ToElement(FinishReason.MaxTokens).GetString());
        Assert.Equal("fromSeq", ContractJson.ToElement(new SequenceGap(3, 2)).EnumerateObject().First().Name);
    }

    [Fact]
    public void Only_declared_types_go_on_the_wire()
    {
        var anonymous = new { answer = 42 };
        var refused = Assert.Throws<NotSupportedException>(() => ContractJson.Serialize(anonymous));
        Assert.Contains(nameof(ContractJsonContext), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_audio_frame_carries_its_sequence_and_codec_at_qos_0_with_an_expiry()
    {
        var message = MeetingAudioFrame.Create("hub", "standup-1", 4711, AudioCodecs.Opus, new byte[] { 1, 2, 3 });

        Assert.Equal(Topics.MeetingAudio("hub", "standup-1"), message.Topic);
        Assert.Equal(MqttQualityOfServiceLevel.AtMostOnce, message.QualityOfServiceLevel);
        Assert.Equal(MeetingAudioFrame.ExpirySeconds, message.MessageExpiryInterval);
        Assert.True(MeetingAudioFrame.TryRead(message, out var sequence, out var codec));
        Assert.Equal((4711L, AudioCodecs.Opus), (sequence, codec));
        var unnumbered = new MQTTnet.MqttApplicationMessageBuilder().WithTopic(message.Topic).WithUserProperty(UserProperties.Sequence, Encoding.UTF8.GetBytes("-1").AsMemory()).Build();
        Assert.False(MeetingAudioFrame.TryRead(unnumbered, out _, out _));
    }
}
