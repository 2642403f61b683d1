using System.Diagnostics;
using System.Text.Json.Nodes;
using Appliance.Benchmarks.Meetings;
using Appliance.Benchmarks.Speech;
using Appliance.Contracts;
using Appliance.Voice;

namespace Appliance.Benchmarks.Voice;

/// <summary>
/// What the spoken path measured, in milliseconds (medians over the runs). A spoken command's intent comes this long
/// after its speech ends: the profile's trailing silence (the end-pointer waits for it by design), then transcription,
/// interpretation and publication, measured from the clip's arrival to the intent's on <c>voice/intents</c>.
/// </summary>
internal sealed record SpokenPathReport(
    string Phrase,
    double ClipSeconds,
    int TrailingSilenceMs,
    double TranscriptMs,
    double TemplatePathMs,
    double LlmPathMs)
{
    /// <summary>End of speech to the intent published when the template matcher alone decides.</summary>
    public double TemplateEndOfSpeechMs => TrailingSilenceMs + TemplatePathMs;

    /// <summary>End of speech to the intent published when the voice model decides.</summary>
    public double LlmEndOfSpeechMs => TrailingSilenceMs + LlmPathMs;
}

/// <summary>
/// The spoken path through the real daemon (its own process, its embedded broker): the TV's command schema, Whisper
/// with the whisper-base shapes (forged, its end-of-text bias set so that it writes about as much as a speaker says)
/// and the voice model of the voice benchmark. Each run sends a command spoken by espeak-ng as <c>voice.audio</c>, as
/// the microphone hands an end-pointed utterance over, and times the <c>transcript</c> event and the intent's arrival.
/// The forged Whisper does not hear the words, so no template takes its text: with the voice model loaded the model
/// decides (the LLM path); after <c>models.unload</c> the template matcher alone decides (the template path, whose own
/// cost the in-process figures give).
/// </summary>
internal static class SpokenPathBenchmark
{
    private const string DeviceId = "voice-bench";
    private const string Phrase = "turn the volume up to twenty";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(2);

    public static async Task<SpokenPathReport> RunAsync(string voiceModelFolder, string cacheDirectory, string workDirectory, int threads, int runs, Action<string> progress, CancellationToken cancellationToken)
    {
        var whisper = SpeechBench.ForgedWhisperBase(cacheDirectory, 7, progress, SummarySettings.EndOfTextBiasDefault);
        var profile = BenchProfiles.DevX64();
        profile["models"] = new JsonObject
        {
            ["asr"] = new JsonObject { ["id"] = "whisper-base-forged", ["path"] = whisper },
            ["voiceLlm"] = new JsonObject { ["id"] = "voice", ["path"] = voiceModelFolder, ["contextTokens"] = 2048 },
        };
        profile["threads"]!["intraOp"] = threads;
        profile["commands"] = BenchProfiles.TvCommands();
        // One decode per window: forged weights would trip the log-probability guard on every window and retry it.
        profile["transcription"] = new JsonObject { ["languages"] = new JsonArray("en", "fa", "ar", "zh"), ["temperatures"] = new JsonArray(0.0), ["logProbThreshold"] = null };
        var profilePath = BenchProfiles.Write(profile, workDirectory, "voice-profile");
        var trailingSilenceMs = Appliance.Profiles.DeviceProfileLoader.Load(profilePath).Profile?.Commands?.TrailingSilenceMs
            ?? throw new InvalidOperationException($"{profilePath} is not a profile with voice commands");

        var spoken = await new EspeakNgSynthesizer().SynthesizeAsync(Phrase, "en", cancellationToken).ConfigureAwait(false);
        if (spoken.Error is { } error)
        {
            throw new InvalidOperationException($"espeak-ng could not say the command: {error}");
        }

        var clip = Convert.ToBase64String([.. spoken.Samples.SelectMany(s => BitConverter.GetBytes((short)Math.Clamp(s * 32767, -32768, 32767)))]);
        progress("voice: the spoken path through the daemon");
        await using var daemon = await BenchDaemon.StartAsync(profilePath, DeviceId, Path.Combine(workDirectory, "voice-daemon"), TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = daemon.Port, DeviceId = DeviceId, DefaultTimeout = CallTimeout }, cancellationToken).ConfigureAwait(false);
        await DaemonModels.WaitSettledAsync(client, [ModelFeatures.Asr, ModelFeatures.VoiceLlm], CallTimeout, cancellationToken).ConfigureAwait(false);
        await using var intents = await client.SubscribeAsync(Topics.VoiceIntents(DeviceId), cancellationToken).ConfigureAwait(false);
        await using var events = await client.SubscribeAsync(Topics.VoiceEvents(DeviceId), cancellationToken).ConfigureAwait(false);

        async Task<(double Transcript, double Intent)> CommandAsync(string expectedSource)
        {
            var started = Stopwatch.GetTimestamp();
            var call = client.InvokeAsync(RpcMethods.VoiceAudio, new VoiceAudioParams { Audio = clip, Format = "s16le", Language = "en" }, cancellationToken: cancellationToken);
            double? transcript = null;
            while (transcript is null)
            {
                if ((await events.ReadAsync(cancellationToken).ConfigureAwait(false)).Deserialize<VoiceEvent>() is UtteranceTranscribedEvent)
                {
                    transcript = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
            }

            var intent = (await intents.ReadAsync(cancellationToken).ConfigureAwait(false)).Deserialize<VoiceIntent>()!;
            var arrived = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            if ((await call.ConfigureAwait(false)).Error is { } failed)
            {
                throw new InvalidOperationException($"voice.audio failed: {failed.Code}: {failed.Message}");
            }

            if (intent.Source != expectedSource)
            {
                throw new InvalidOperationException($"the command was decided by {intent.Source}, not {expectedSource}: {intent.Reason}");
            }

            return (transcript.Value, arrived);
        }

        await CommandAsync(VoiceIntentSources.Llm).ConfigureAwait(false); // warm-up: the first decode of each model, and the instructions' cache
        var transcripts = new List<double>();
        var llm = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var (transcript, intent) = await CommandAsync(VoiceIntentSources.Llm).ConfigureAwait(false);
            transcripts.Add(transcript);
            llm.Add(intent);
        }

        var unloaded = await client.InvokeAsync(RpcMethods.ModelsUnload, new ModelIdParams { Id = "voice" }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (unloaded.Error is { } notUnloaded)
        {
            throw new InvalidOperationException($"models.unload failed: {notUnloaded.Message}");
        }

        var template = new List<double>();
        for (var run = 0; run < runs; run++)
        {
            var (transcript, intent) = await CommandAsync(VoiceIntentSources.None).ConfigureAwait(false);
            transcripts.Add(transcript);
            template.Add(intent);
        }

        return new SpokenPathReport(Phrase, spoken.Samples.Length / 16000.0, trailingSilenceMs, VoiceBenchmark.Median(transcripts), VoiceBenchmark.Median(template), VoiceBenchmark.Median(llm));
    }
}
