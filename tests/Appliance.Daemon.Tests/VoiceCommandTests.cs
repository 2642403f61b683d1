using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// <c>voice.text</c> through the real daemon and broker, on the shipped TV and fridge profiles: the checked intent comes
/// back and is published on <c>voice/intents</c>; bad requests get <c>invalid_params</c> and the daemon keeps serving.
/// </summary>
public sealed class VoiceCommandTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_tv_command_as_text_gives_the_template_intent_and_publishes_it()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rk3588-tv"]);
        await using var client = await daemon.ConnectAsync();
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));

        var reply = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn the volume up to 20" });

        var intent = reply.Value!;
        Assert.Null(reply.Error);
        Assert.Equal(("volume_set", """{"level":20}""", VoiceIntentSources.Template, "Volume 20.", "en"), (intent.Intent, intent.Slots.ToJsonString(), intent.Source, intent.Reply, intent.Language));
        using var wait = new CancellationTokenSource(Limit);
        var published = (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!;
        Assert.Equal((intent.UtteranceId, "volume_set", """{"level":20}"""), (published.UtteranceId, published.Intent, published.Slots.ToJsonString()));
    }

    [Fact]
    public async Task A_fridge_command_out_of_range_is_not_understood_and_published_with_its_reason()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rpi5-fridge"]);
        await using var client = await daemon.ConnectAsync();
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));

        var inRange = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "set the freezer to minus twenty" })).Value!;
        var outOfRange = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "set the freezer to plus twenty" })).Value!;
        var tooWarm = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "set the freezer to twenty" })).Value!;

        Assert.Equal(("freezer_temperature_set", """{"celsius":-20}"""), (inRange.Intent, inRange.Slots.ToJsonString()));
        Assert.Equal(("not_understood", "no sentence template matched"), (outOfRange.Intent, outOfRange.Reason));
        Assert.Equal(("not_understood", "slot celsius: 20 is above the maximum of -16", "{}"), (tooWarm.Intent, tooWarm.Reason, tooWarm.Slots.ToJsonString()));
        using var wait = new CancellationTokenSource(Limit);
        var published = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            published.Add((await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.Intent);
        }

        Assert.Equal(["freezer_temperature_set", "not_understood", "not_understood"], published);
    }

    [Fact]
    public async Task Bad_requests_get_invalid_params_with_the_reason_and_the_daemon_keeps_serving()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rk3588-tv"]);
        await using var client = await daemon.ConnectAsync();

        var empty = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "  " });
        var missing = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams());
        var huge = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = new string('a', 100 * 1024) });
        var long600 = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = new string('a', 600) });
        var german = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "lauter", Language = "de" });
        var wrongType = await client.StreamRawAsync("voice.text", """{"text": 42}"""u8.ToArray()).LastAsync();
        var after = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "mute" });

        Assert.All([empty.Error, missing.Error, long600.Error, german.Error, wrongType.Error], e => Assert.Equal(RpcErrorCodes.InvalidParams, e?.Code));
        Assert.Contains("not empty", empty.Error!.Message, StringComparison.Ordinal);
        Assert.Equal("text is 600 characters; this device interprets at most 500", long600.Error!.Message);
        Assert.Equal((RpcErrorCodes.PayloadTooLarge, "The request is 102411 bytes; the limit for voice.text is 65536 bytes."), (huge.Error!.Code, huge.Error.Message));
        Assert.Equal("'de' is not one of this device's languages (en, fa, ar, zh)", german.Error!.Message);
        Assert.Equal("mute", after.Value!.Intent);
    }

    [Fact]
    public async Task A_question_about_the_temperature_is_answered_from_the_simulated_sensors_latest_reading()
    {
        var profile = TestProfiles.Write(p =>
        {
            p["sensors"]![0]!["intervalSeconds"] = 1;
            p["commands"] = System.Text.Json.Nodes.JsonNode.Parse("""
            { "intents": [ {
                "name": "temperature_query",
                "slots": [ { "name": "room", "type": "enum", "values": { "climate": { "en": ["kitchen"] } } } ],
                "templates": { "en": ["what is the temperature in the {room}"] },
                "reply": { "en": "It is {reading} degrees." },
                "answer": { "reading": "temperature", "sensorSlot": "room" } } ] }
            """);
        });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var client = await daemon.ConnectAsync();
        await using var telemetry = await client.SubscribeAsync(Topics.Telemetry(daemon.DeviceId));
        using var wait = new CancellationTokenSource(Limit);
        await telemetry.ReadAsync(wait.Token); // a reading exists (the sensor is read every second)
        var latest = daemon.Service<Hardware.SensorReadings>();

        // The reply is the latest reading when asked: the one before the question, or one that landed during it.
        var before = latest.Latest("climate", "temperature")!.Value;
        var answer = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "What is the temperature in the kitchen?" })).Value!;
        var after = latest.Latest("climate", "temperature")!.Value;

        Assert.Equal(("temperature_query", """{"room":"climate"}"""), (answer.Intent, answer.Slots.ToJsonString()));
        Assert.Contains(answer.Reply, new[] { before, after }.Select(t => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"It is {Math.Round(t, 1)} degrees.")));
    }

    /// <summary>
    /// The fridge's door question, on a board whose simulated GPIO has the door contact: the state comes from the
    /// contact (also published on telemetry), in the language asked.
    /// </summary>
    [Fact]
    public async Task A_question_about_the_door_is_answered_from_its_contact()
    {
        var profile = TestProfiles.FridgeWithDoor();
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var client = await daemon.ConnectAsync();
        await using var telemetry = await client.SubscribeAsync(Topics.Telemetry(daemon.DeviceId));
        using var wait = new CancellationTokenSource(Limit);

        async Task<string> AskAsync(string text, string language)
        {
            var answer = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = text, Language = language })).Value!;
            Assert.Equal(("door_query", """{"door":"door"}""", VoiceIntentSources.Template), (answer.Intent, answer.Slots.ToJsonString(), answer.Source));
            return answer.Reply;
        }

        // The door's state is also published again at each connection and every 60 s: wait for the one that says it.
        async Task DoorReadingAsync(bool open)
        {
            while ((await telemetry.ReadAsync(wait.Token)).Deserialize<TelemetryReading>() is not { Type: "door", Sensor: "door" } reading || reading.Open != open)
            {
            }
        }

        // The simulated door starts shut; the daemon may have published that before this client subscribed.
        Assert.Equal("The door is closed.", await AskAsync("is the fridge door open?", "en"));
        Assert.Equal("در یخچال بسته است.", await AskAsync("آیا در یخچال باز است", "fa"));

        var board = daemon.Service<Hardware.BoardHardware>();
        board.Simulator!.ReleaseButton(22); // the contact opens, bouncing, and settles high (pull-up)
        await DoorReadingAsync(open: true);
        Assert.Contains(new Appliance.Voice.SensorValue("door", "open", 1), daemon.Service<Hardware.SensorReadings>().Snapshot()); // what the voice model is given
        Assert.Equal("The door is open.", await AskAsync("did I leave the door open", "en"));
        Assert.Equal("冰箱门开着。", await AskAsync("冰箱门关好了吗", "zh"));
        Assert.Equal("باب الثلاجة مفتوح.", await AskAsync("هل باب الثلاجة مغلق", "ar"));

        board.Simulator.PressButton(22);
        await DoorReadingAsync(open: false);
        Assert.Equal("The door is closed.", await AskAsync("is the door still open", "en"));
    }

    [Fact]
    public async Task A_profile_without_commands_answers_unavailable()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output);
        await using var client = await daemon.ConnectAsync();

        var reply = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn the volume up to 20" });

        Assert.Equal((RpcErrorCodes.Unavailable, "this device takes no voice commands: its profile has no commands section"), (reply.Error!.Code, reply.Error.Message));
    }
}

/// <summary>The fridge's vacation mode waits for a yes: through the real daemon, spoken as text and through <c>voice.confirm</c>, and left to expire.</summary>
public sealed class VoiceConfirmationTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Vacation_mode_is_published_only_after_a_spoken_yes()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rpi5-fridge"]);
        await using var client = await daemon.ConnectAsync();
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));

        var asked = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on vacation mode" })).Value!;
        var answered = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "yes please" })).Value!;

        Assert.Equal(("vacation_mode", VoiceConfirmations.Pending, "Turn vacation mode on? Say yes or no."), (asked.Intent, asked.Confirmation, asked.Reply));
        Assert.Equal((asked.UtteranceId, "vacation_mode", VoiceConfirmations.Confirmed, "Vacation mode on."), (answered.UtteranceId, answered.Intent, answered.Confirmation, answered.Reply));
        using var wait = new CancellationTokenSource(Limit);
        var published = (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!;
        Assert.Equal((asked.UtteranceId, VoiceConfirmations.Confirmed, """{"state":"on"}"""), (published.UtteranceId, published.Confirmation, published.Slots.ToJsonString()));
        var requested = Assert.IsType<ConfirmationRequestedEvent>(await NextConfirmationEventAsync(events, wait.Token));
        var ended = Assert.IsType<ConfirmationEndedEvent>(await NextConfirmationEventAsync(events, wait.Token));
        Assert.Equal((asked.UtteranceId, "Turn vacation mode on? Say yes or no."), (requested.UtteranceId, requested.Prompt));
        Assert.Equal((asked.UtteranceId, VoiceConfirmations.Confirmed), (ended.UtteranceId, ended.Outcome));
    }

    [Fact]
    public async Task A_declined_confirmation_publishes_nothing_and_a_second_answer_is_invalid_state()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rpi5-fridge"]);
        await using var client = await daemon.ConnectAsync();
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));

        var asked = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on vacation mode" })).Value!;
        var declined = (await client.InvokeAsync(RpcMethods.VoiceConfirm, new VoiceConfirmParams { UtteranceId = asked.UtteranceId, Confirmed = false })).Value!;
        var again = await client.InvokeAsync(RpcMethods.VoiceConfirm, new VoiceConfirmParams { UtteranceId = asked.UtteranceId, Confirmed = true });
        var noAnswer = await client.InvokeAsync(RpcMethods.VoiceConfirm, new VoiceConfirmParams { UtteranceId = asked.UtteranceId });
        var eco = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on eco mode" })).Value!;

        Assert.Equal((VoiceConfirmations.Declined, "OK, I will leave it."), (declined.Confirmation, declined.Reply));
        Assert.Equal(RpcErrorCodes.InvalidState, again.Error!.Code);
        Assert.Contains("waits for no confirmation", again.Error.Message, StringComparison.Ordinal);
        Assert.Equal(RpcErrorCodes.InvalidParams, noAnswer.Error!.Code);
        using var wait = new CancellationTokenSource(Limit);
        var first = (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!;
        Assert.Equal((eco.UtteranceId, "mode_set"), (first.UtteranceId, first.Intent)); // the declined one never came
    }

    [Fact]
    public async Task An_unanswered_confirmation_expires_and_a_late_yes_carries_nothing_out()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rpi5-fridge"], RunningDaemon.WithClock(clock));
        await using var client = await daemon.ConnectAsync();
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));

        var asked = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on vacation mode" })).Value!;
        using var wait = new CancellationTokenSource(Limit);
        var requested = Assert.IsType<ConfirmationRequestedEvent>(await NextConfirmationEventAsync(events, wait.Token));
        clock.Advance(TimeSpan.FromSeconds(10));
        var ended = Assert.IsType<ConfirmationEndedEvent>(await NextConfirmationEventAsync(events, wait.Token));
        var lateYes = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "yes" })).Value!;

        Assert.Equal(clock.GetUtcNow(), requested.ExpiresAt);
        Assert.Equal((asked.UtteranceId, VoiceConfirmations.Expired), (ended.UtteranceId, ended.Outcome));
        Assert.Equal(("not_understood", "no sentence template matched"), (lateYes.Intent, lateYes.Reason));
    }

    [Fact]
    public async Task Every_confirmation_of_commands_given_at_once_ends_and_is_announced()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, ["--profile", "rpi5-fridge"], RunningDaemon.WithClock(clock));
        await using var client = await daemon.ConnectAsync();
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));

        // Twelve at once: each replaces the one before, and the last one's timer must be the one left running.
        var asked = await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on vacation mode" })));
        using var wait = new CancellationTokenSource(Limit);
        var requested = new HashSet<string>();
        var ended = new HashSet<string>();
        while (requested.Count < asked.Length || ended.Count < asked.Length - 1)
        {
            switch (await NextConfirmationEventAsync(events, wait.Token))
            {
                case ConfirmationRequestedEvent r: requested.Add(r.UtteranceId); break;
                case ConfirmationEndedEvent e: ended.Add(e.UtteranceId); break;
            }
        }

        clock.Advance(TimeSpan.FromSeconds(10));
        var last = Assert.IsType<ConfirmationEndedEvent>(await NextConfirmationEventAsync(events, wait.Token));

        Assert.Equal(VoiceConfirmations.Expired, last.Outcome);
        Assert.Equal(requested, [.. ended, last.UtteranceId]);
    }

    private static async Task<VoiceEvent> NextConfirmationEventAsync(TopicSubscription events, CancellationToken cancellationToken)
    {
        while (true)
        {
            var e = (await events.ReadAsync(cancellationToken)).Deserialize<VoiceEvent>();
            if (e is ConfirmationRequestedEvent or ConfirmationEndedEvent)
            {
                return e;
            }
        }
    }
}

/// <summary>Spoken replies through the real daemon: espeak-ng, Ogg Opus on voice/tts, the simulated speaker, barge-in by the button.</summary>
public sealed class SpokenReplyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_reply_is_published_as_ogg_opus_played_and_cut_off_by_the_push_to_talk_button()
    {
        var profile = TestProfiles.Write(p =>
        {
            TestProfiles.TakeFrom(p, "rk3588-tv", "commands", "transcription");
            p["commands"]!["spokenReplies"] = new System.Text.Json.Nodes.JsonObject { ["outputDevice"] = "simulated" };
        });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var client = await daemon.ConnectAsync();
        await using var tts = await client.SubscribeAsync(Topics.VoiceTts(daemon.DeviceId));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var intent = (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "set the volume to twenty five" })).Value!;
        var message = await tts.ReadAsync(wait.Token);

        Assert.Equal(intent.UtteranceId, message.UserProperties[UserProperties.UtteranceId]);
        Assert.Equal("en", message.UserProperties[UserProperties.Language]);
        var spoken = Appliance.Audio.AudioFile.ReadMono16k(new MemoryStream(message.Payload.ToArray()));
        Assert.True(spoken.Succeeded, spoken.Message);
        Assert.InRange(spoken.Audio!.Duration.TotalSeconds, 0.3, 10);
        var speaker = (Appliance.Hardware.SimulatedSpeaker)daemon.Service<Voice.SpokenReplies>().Speaker!;
        Assert.Single(speaker.Played);
        Assert.True(speaker.IsPlaying, "the reply plays for its length");
        var board = daemon.Service<Hardware.BoardHardware>();
        board.Simulator!.PressButton(board.Settings.PushToTalkPin);
        await daemon.WaitForLogAsync(m => m.Contains("The reply playing was cut off", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(1, speaker.CutOffCount);
        Assert.False(speaker.IsPlaying);
    }
}

/// <summary>
/// The appliance's acknowledgements on <c>voice/handled</c> through the real daemon and broker: with
/// <c>commands.handled</c> in the profile, the reply of an intent that makes the appliance act follows what the
/// appliance said (done, failed with or without its own message, or nothing in time), announced by a <c>handled</c>
/// event; questions and <c>not_understood</c> wait for nothing; a malformed or retained acknowledgement is ignored.
/// </summary>
public sealed class VoiceHandledTests(ITestOutputHelper output)
{
    /// <summary>What the test's appliance answers: ok or not, its message, and whether it publishes it retained (wrongly).</summary>
    private sealed record Acknowledgement(bool Ok, string? Message = null, bool Retained = false);

    [Fact]
    public async Task The_reply_says_whether_the_appliance_carried_the_intent_out()
    {
        var profile = TestProfiles.Write(p =>
        {
            TestProfiles.TakeFrom(p, "rk3588-tv", "commands", "transcription");
            p["commands"]!["handled"] = new System.Text.Json.Nodes.JsonObject
            {
                ["timeoutSeconds"] = 2,
                ["failedReply"] = new System.Text.Json.Nodes.JsonObject { ["en"] = "The TV could not do that." },
            };
        });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var appliance = await daemon.ConnectAsync();
        await using var intents = await appliance.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));
        await using var events = await appliance.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // The appliance answers each intent it is given as the test says, and the handled event carries the reply.
        async Task<IntentHandledEvent> CommandAsync(string text, Acknowledgement? answer)
        {
            var intent = (await appliance.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = text })).Value!;
            Assert.Equal(intent.UtteranceId, (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.UtteranceId);
            if (answer is { Retained: true })
            {
                await appliance.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(Topics.VoiceHandled(daemon.DeviceId)).WithRetainFlag().WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce)
                    .WithPayload(Channels.VoiceHandled.Serialize(new VoiceHandled { UtteranceId = intent.UtteranceId, Ok = answer.Ok })).Build(), wait.Token);
            }
            else if (answer is not null)
            {
                await appliance.ReportHandledAsync(new VoiceHandled { UtteranceId = intent.UtteranceId, Ok = answer.Ok, Message = answer.Message }, wait.Token);
            }

            while (true)
            {
                if ((await events.ReadAsync(wait.Token)).Deserialize<VoiceEvent>() is IntentHandledEvent handled)
                {
                    Assert.Equal(intent.UtteranceId, handled.UtteranceId);
                    return handled;
                }
            }
        }

        // not_understood waits for nothing: its intent is published, and the first handled event is the next command's.
        Assert.Equal("not_understood", (await appliance.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "unlock the front door" })).Value!.Intent);
        Assert.Equal("not_understood", (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.Intent);

        var done = await CommandAsync("turn the volume up to 20", new Acknowledgement(true));
        var failedWithMessage = await CommandAsync("mute", new Acknowledgement(false, "The TV is in standby."));
        var failed = await CommandAsync("turn the volume up to 30", new Acknowledgement(false, "  ")); // a blank message is no message
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var unanswered = await CommandAsync("turn the volume up to 40", answer: null);

        Assert.Equal(("volume_set", IntentHandledOutcomes.Done, "Volume 20."), (done.Intent, done.Outcome, done.Reply));
        Assert.Equal((IntentHandledOutcomes.Failed, "The TV is in standby."), (failedWithMessage.Outcome, failedWithMessage.Reply));
        Assert.Equal((IntentHandledOutcomes.Failed, "The TV could not do that."), (failed.Outcome, failed.Reply));
        Assert.Equal((IntentHandledOutcomes.NoAnswer, Appliance.Profiles.HandledSettings.DefaultNoAnswerReply), (unanswered.Outcome, unanswered.Reply));
        Assert.True(watch.Elapsed >= TimeSpan.FromSeconds(1.9), $"the no-answer reply came after {watch.Elapsed}, before the profile's 2 s acknowledgement timeout had passed");

        // Bad acknowledgements are logged with the reason and change nothing; the daemon keeps serving.
        var late = unanswered.UtteranceId;
        await appliance.ReportHandledAsync(new VoiceHandled { UtteranceId = late, Ok = true }, wait.Token);
        await daemon.WaitForLogAsync(m => m.Contains($"Utterance {late}: its acknowledgement came after the reply", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        await appliance.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(Topics.VoiceHandled(daemon.DeviceId)).WithPayload("{\"utteranceId\":\"x\"}").Build(), wait.Token);
        await daemon.WaitForLogAsync(m => m.Contains("ignored: ok (true or false) is missing", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        await appliance.PublishAsync(new MQTTnet.MqttApplicationMessageBuilder().WithTopic(Topics.VoiceHandled(daemon.DeviceId)).WithPayload("not json").Build(), wait.Token);
        await daemon.WaitForLogAsync(m => m.Contains("ignored: the payload is not the JSON of an acknowledgement", StringComparison.Ordinal), TimeSpan.FromSeconds(10));

        // A retained acknowledgement is stale: it is ignored, and the command's reply says that no answer came.
        var retained = await CommandAsync("turn the volume up to 10", new Acknowledgement(true, Retained: true));
        await daemon.WaitForLogAsync(m => m.Contains("ignored: a retained acknowledgement is stale", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.Equal(IntentHandledOutcomes.NoAnswer, retained.Outcome);
    }

    /// <summary>On the fridge: a question's reply waits for nothing, and a confirmed command's reply waits for the acknowledgement.</summary>
    [Fact]
    public async Task Questions_wait_for_nothing_and_a_confirmed_command_waits_for_its_acknowledgement()
    {
        var profile = TestProfiles.FridgeWithDoor(p => p["commands"]!["handled"] = new System.Text.Json.Nodes.JsonObject { ["timeoutSeconds"] = 10 });
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={profile}"]);
        await using var appliance = await daemon.ConnectAsync();
        await using var intents = await appliance.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));
        await using var events = await appliance.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var question = (await appliance.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "is the fridge door open" })).Value!;
        Assert.Equal(("door_query", "The door is closed."), (question.Intent, question.Reply));
        Assert.Equal(question.UtteranceId, (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.UtteranceId);
        var asked = (await appliance.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "turn on vacation mode" })).Value!;
        var confirmed = (await appliance.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "yes" })).Value!;
        Assert.Equal((asked.UtteranceId, VoiceConfirmations.Confirmed), (confirmed.UtteranceId, confirmed.Confirmation));
        Assert.Equal(asked.UtteranceId, (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.UtteranceId);
        await appliance.ReportHandledAsync(new VoiceHandled { UtteranceId = asked.UtteranceId, Ok = true }, wait.Token);

        // The first handled event is the confirmed command's: the question's reply waited for nothing.
        IntentHandledEvent? handled = null;
        while (handled is null)
        {
            handled = (await events.ReadAsync(wait.Token)).Deserialize<VoiceEvent>() as IntentHandledEvent;
        }

        Assert.Equal((asked.UtteranceId, "vacation_mode", IntentHandledOutcomes.Done, "Vacation mode on."), (handled.UtteranceId, handled.Intent, handled.Outcome, handled.Reply));
    }
}
