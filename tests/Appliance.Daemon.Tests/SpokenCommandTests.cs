using System.Text.Json.Nodes;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Hardware;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Tests.Common;
using Appliance.Voice;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Spoken commands through the real daemon: <c>voice.audio</c> clips, and the simulated microphone with the real
/// "hey jarvis" wake word and Silero VAD end-pointing, transcribed by a forged Whisper (random weights: its text is not
/// the words said, so these tests hold the pipeline, not the recognition) and interpreted against the fridge's schema.
/// </summary>
public sealed class SpokenCommandTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    private async Task<RunningDaemon> StartAsync()
    {
        var path = models.Profile();
        var profile = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        TestProfiles.TakeFrom(profile, "rpi5-fridge", "commands", "sensors", "gpio/doors"); // its questions name the fridge's sensors (not on this machine: no readings) and its door
        File.WriteAllText(path, profile.ToJsonString());
        var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={path}"]);
        await daemon.Service<SpeechModels>().Ready.WaitAsync(TimeSpan.FromSeconds(30));

        // The models being ready is not the pipeline listening: it still opens its detectors, and a button pressed
        // before it listens is not heard. Its health check turns ok once it listens.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!daemon.Service<Device.HealthMonitor>().Snapshot().Checks.TryGetValue("microphone", out var microphone) || microphone.Status != HealthStatus.Ok)
        {
            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(30), "the voice pipeline did not start listening within 30 s");
            await Task.Delay(20);
        }

        return daemon;
    }

    private static string Pcm(float[] samples) =>
        Convert.ToBase64String([.. samples.SelectMany(s => BitConverter.GetBytes((short)Math.Clamp(s * 32767, -32768, 32767)))]);

    [Fact]
    public async Task A_clip_is_transcribed_announced_and_interpreted_within_the_schema()
    {
        var clip = SpokenAudio.Say(models.Root, "set the freezer to minus twenty");
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));

        var reply = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = Pcm(clip), Format = "s16le", Language = "en" });

        var intent = reply.Value!;
        output.WriteLine($"heard '{intent.Transcript}' -> {intent.Intent} ({intent.Reason})");
        Assert.Null(reply.Error);
        Assert.Equal("en", intent.Language);
        Assert.Null(IntentCheck.Problem(daemon.Service<Device.DeviceContext>().Profile.Commands!, intent.Intent, intent.Slots));
        using var wait = new CancellationTokenSource(Limit);
        var transcript = await NextAsync<UtteranceTranscribedEvent>(events, wait.Token);
        Assert.Equal((intent.UtteranceId, intent.Transcript), (transcript.UtteranceId, transcript.Text));
        Assert.InRange(transcript.DurationSeconds, clip.Length / 16000.0 - 0.01, clip.Length / 16000.0 + 0.01);
        if (intent.Confirmation is null)
        {
            Assert.Equal(intent.UtteranceId, (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!.UtteranceId);
        }
    }

    [Fact]
    public async Task A_clip_too_long_unreadable_or_in_another_language_gets_invalid_params_and_the_daemon_keeps_serving()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var minute = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = Pcm(new float[60 * 16000]), Format = "s16le" });
        var garbage = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = Convert.ToBase64String("not audio at all, just text"u8.ToArray()) });
        var notBase64 = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = "%%%" });
        var german = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = Pcm(new float[16000]), Format = "s16le", Language = "de" });
        var none = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams());
        var after = await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "set a timer for ten minutes" });

        Assert.All([minute.Error, garbage.Error, notBase64.Error, german.Error, none.Error], e => Assert.Equal(RpcErrorCodes.InvalidParams, e?.Code));
        Assert.Equal("the clip is 60.0 s; a spoken command on this device is at most 10 s", minute.Error!.Message);
        Assert.Contains("'de' is not one of this device's languages", german.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(("timer_set", """{"minutes":10}"""), (after.Value!.Intent, after.Value.Slots.ToJsonString()));
    }

    [Fact]
    public async Task The_wake_word_starts_a_spoken_command_that_is_end_pointed_transcribed_and_published()
    {
        var spoken = SpokenAudio.Say(models.Root, "hey jarvis, set the freezer to minus twenty", wordsPerMinute: 140);
        float[] audio = [.. new float[16000], .. spoken, .. new float[32000]];
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));

        ((SimulatedMicrophone)daemon.Service<IMicrophone>()).Play(audio);

        using var wait = new CancellationTokenSource(Limit);
        var wake = await NextAsync<WakeWordEvent>(events, wait.Token);
        var transcript = await NextAsync<UtteranceTranscribedEvent>(events, wait.Token);
        output.WriteLine($"wake at {wake.AudioTime} s; heard '{transcript.Text}' in {transcript.DurationSeconds} s");
        var schema = daemon.Service<Device.DeviceContext>().Profile.Commands!;
        var utteranceEnd = (16000 + spoken.Length) / 16000.0;
        // From the wake word to the end of speech plus the trailing silence: neither cut short nor run to the limit.
        Assert.InRange(transcript.DurationSeconds, utteranceEnd - wake.AudioTime, utteranceEnd - wake.AudioTime + schema.TrailingSilenceMs / 1000.0 + 0.5);
        var intent = (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!;
        Assert.Equal(transcript.UtteranceId, intent.UtteranceId);
        Assert.Null(IntentCheck.Problem(schema, intent.Intent, intent.Slots));
    }

    [Fact]
    public async Task A_press_of_the_push_to_talk_button_starts_a_spoken_command_without_the_wake_word()
    {
        var spoken = SpokenAudio.Say(models.Root, "set the freezer to minus twenty");
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(daemon.DeviceId));
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(daemon.DeviceId));
        var board = daemon.Service<Hardware.BoardHardware>();
        using var wait = new CancellationTokenSource(Limit);

        board.Simulator!.PressButton(board.Settings.PushToTalkPin);
        var pressed = await NextAsync<PushToTalkEvent>(events, wait.Token);
        ((SimulatedMicrophone)daemon.Service<IMicrophone>()).Play([.. spoken, .. new float[32000]]);
        var transcript = await NextAsync<UtteranceTranscribedEvent>(events, wait.Token);
        board.Simulator.ReleaseButton(board.Settings.PushToTalkPin);
        var intent = (await intents.ReadAsync(wait.Token)).Deserialize<VoiceIntent>()!;

        Assert.Equal(PushToTalkEvent.Pressed, pressed.State);
        output.WriteLine($"heard {transcript.DurationSeconds} s");
        // The clip from its start to the end of speech and the trailing silence, end-pointed while the button is held.
        var schema = daemon.Service<Device.DeviceContext>().Profile.Commands!;
        Assert.InRange(transcript.DurationSeconds, spoken.Length / 16000.0 - 0.5, spoken.Length / 16000.0 + schema.TrailingSilenceMs / 1000.0 + 1.0);
        Assert.Equal(transcript.UtteranceId, intent.UtteranceId);
        Assert.Null(IntentCheck.Problem(schema, intent.Intent, intent.Slots));
    }

    /// <summary>
    /// The attack corpus spoken by espeak-ng (in each phrase's language) through <c>voice.audio</c> and the whole
    /// pipeline. The forged Whisper does not hear the words, so this holds the audio path's guard, not recognition:
    /// whatever the transcript, nothing outside the schema or out of range comes out.
    /// </summary>
    [Fact]
    public async Task No_spoken_attack_phrase_gives_an_intent_outside_the_schema_or_a_slot_out_of_range()
    {
        var attacks = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "corpus", "attacks.jsonl"))
            .Where(line => line.Length > 0)
            .Select(line => System.Text.Json.JsonSerializer.Deserialize<JsonObject>(line)!)
            .ToList();
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        var schema = daemon.Service<Device.DeviceContext>().Profile.Commands!;
        var voices = new Dictionary<string, string> { ["en"] = "en-us", ["fa"] = "fa", ["ar"] = "ar", ["zh"] = "cmn" };
        var outcomes = new Dictionary<string, int>();
        var violations = new List<string>();
        foreach (var attack in attacks)
        {
            var (text, language) = (attack["text"]!.GetValue<string>(), attack["language"]!.GetValue<string>());
            var clip = SpokenAudio.Say(models.Root, text, voice: voices[language]);
            var reply = await client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = Pcm(clip), Format = "s16le", Language = language });
            var outcome = reply.Error is { } error ? error.Code : reply.Value!.Intent == CommandSchema.NotUnderstood ? "not_understood" : $"{reply.Value.Source} intent";
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
            if (reply.Value is { } intent && (intent.Intent != CommandSchema.NotUnderstood && schema.Find(intent.Intent) is null || IntentCheck.Problem(schema, intent.Intent, intent.Slots) is not null))
            {
                violations.Add($"{language} {text}: {intent.Intent} {intent.Slots.ToJsonString()}");
            }
        }

        output.WriteLine($"{attacks.Count} spoken attack phrases: {string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"))}");
        Assert.True(attacks.Count >= 200);
        Assert.Empty(violations);
        Assert.All(outcomes.Keys, o => Assert.True(o is "not_understood" or "template intent" or "llm intent" or RpcErrorCodes.InvalidParams, o)); // invalid_params: a clip over the length limit
    }

    private static async Task<T> NextAsync<T>(TopicSubscription events, CancellationToken cancellationToken)
        where T : VoiceEvent
    {
        while (true)
        {
            if ((await events.ReadAsync(cancellationToken)).Deserialize<VoiceEvent>() is T found)
            {
                return found;
            }
        }
    }
}

/// <summary>
/// A stop phrase said while a spoken reply plays cuts it off, without the wake word, and other speech does not: through
/// the real daemon, the simulated microphone and speaker, Silero VAD and a forged Whisper biased to hear one word
/// whatever is said (a forged vocabulary has no "stop": the profile adds that word to its stop phrases, as a maker adds
/// its own, or leaves it out).
/// </summary>
public sealed class SpokenStopTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_stop_phrase_heard_while_a_reply_plays_cuts_it_off_and_other_speech_does_not(bool heardWordIsAStopPhrase)
    {
        const int HeardToken = 262; // an ordinary word of the forged vocabulary
        var whisper = Path.Combine(models.Root, $"whisper-hears-one-word-{heardWordIsAStopPhrase}");
        Appliance.ModelForge.Whisper.WhisperForge.Write(Appliance.ModelForge.Whisper.WhisperPreset.Tiny, 7, whisper, logitBias: new Dictionary<int, float> { [HeardToken] = 30 });
        var word = Appliance.Speech.Whisper.WhisperTokenizer.Load(Path.Combine(whisper, "tokenizer.json")).Value!.Decode([HeardToken]).Trim();
        var path = models.Profile();
        var profile = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        TestProfiles.TakeFrom(profile, "rk3588-tv", "commands");
        profile["models"]!["asr"]!["path"] = whisper;
        profile["commands"]!["spokenReplies"] = new JsonObject { ["outputDevice"] = "simulated" };
        profile["commands"]!["stopPhrases"] = new JsonObject { ["en"] = new JsonArray(heardWordIsAStopPhrase ? word : "pipe down") };
        profile["commands"]!["notUnderstoodReply"] = new JsonObject { ["en"] = "Sorry, I did not understand that. You can ask me to change the channel, the volume or the input, to open an app, or to pause and play, in English, Persian, Arabic or Chinese." };
        File.WriteAllText(path, profile.ToJsonString());
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={path}"]);
        await daemon.Service<SpeechModels>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
        await using var client = await daemon.ConnectAsync();
        var speaker = (SimulatedSpeaker)daemon.Service<Voice.SpokenReplies>().Speaker!;
        var stop = SpokenAudio.Say(models.Root, "stop");

        await using var tts = await client.SubscribeAsync(Topics.VoiceTts(daemon.DeviceId));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        Assert.Equal(CommandSchema.NotUnderstood, (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = "open the pod bay doors" })).Value!.Intent);
        await tts.ReadAsync(wait.Token); // playing starts before the reply is published
        Assert.True(speaker.IsPlaying, "the reply plays for its length, some 10 s");
        ((SimulatedMicrophone)daemon.Service<IMicrophone>()).Play([.. stop, .. new float[24000]]);

        if (heardWordIsAStopPhrase)
        {
            await daemon.WaitForLogAsync(m => m.Contains($"Heard '{word}' while a reply played: a stop phrase", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            await daemon.WaitForLogAsync(m => m.Contains("The reply playing was cut off", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
            Assert.Equal(1, speaker.CutOffCount);
            Assert.False(speaker.IsPlaying);
        }
        else
        {
            await daemon.WaitForLogAsync(m => m.Contains($"Heard '{word}' while a reply played: not a stop phrase, dropped", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
            Assert.Equal(0, speaker.CutOffCount);
            Assert.True(speaker.IsPlaying, "the reply plays on");
        }
    }
}
