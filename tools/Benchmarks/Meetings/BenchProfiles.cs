using System.Text.Json.Nodes;

namespace Appliance.Benchmarks.Meetings;

/// <summary>
/// Device profiles for the meetings benchmark: the shipped dev-x64 profile (the daemon's copy next to this program)
/// with its <c>models</c> section replaced. Model paths are absolute, which the daemon takes as they are (relative
/// ones are resolved against <c>Models:Root</c>).
/// </summary>
internal static class BenchProfiles
{
    public static string DevX64Path => Path.Combine(AppContext.BaseDirectory, "device-profiles", "dev-x64.json");

    /// <summary>The dev-x64 profile as shipped.</summary>
    public static JsonObject DevX64() =>
        JsonNode.Parse(File.ReadAllText(DevX64Path))?.AsObject() ?? throw new InvalidDataException($"{DevX64Path} is empty");

    /// <summary>The shipped TV profile's command schema (voice commands), to put on dev-x64.</summary>
    public static JsonNode TvCommands() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "device-profiles", "rk3588-tv.json")))?["commands"]?.DeepClone()
        ?? throw new InvalidDataException("rk3588-tv.json has no commands");

    /// <summary>The device id of dev-x64, which every topic carries.</summary>
    public static string DeviceId(JsonObject profile) => profile["deviceId"]?.GetValue<string>() ?? "dev-x64";

    /// <summary>The thinking budget dev-x64 gives its summary model (1024 when it names none).</summary>
    public static int SummaryThinkingBudget() =>
        DevX64()["models"]?["summaryLlm"]?["thinkingBudgetTokens"]?.GetValue<int>() ?? 1024;

    /// <summary>
    /// dev-x64 for the ingest figure: no speech recogniser and no language model, so nothing but meeting ingest (and
    /// the per-session voice activity detection the meeting worker runs) uses the CPU. No wake word either: it belongs
    /// to the microphone pipeline, not to meetings.
    /// </summary>
    /// <param name="vadModel">Silero VAD graph, or null for the daemon's energy detector.</param>
    /// <param name="capacity">The meetings recorded at once before a start is answered busy.</param>
    public static JsonObject IngestOnly(string? vadModel, int capacity)
    {
        var profile = WithModels([], vadModel);
        profile["meetings"] = new JsonObject { ["capacity"] = capacity };
        return profile;
    }

    /// <summary>dev-x64 for the summary figure: the forged Whisper as <c>asr</c>, the forged R1 as <c>summaryLlm</c>, no voice model, no wake word.</summary>
    public static JsonObject WithSummaryModels(string whisperFolder, string whisperId, string llmFolder, string llmId, int contextTokens, int thinkingBudget, string? vadModel)
    {
        var models = new JsonObject
        {
            ["summaryLlm"] = new JsonObject { ["id"] = llmId, ["path"] = llmFolder, ["contextTokens"] = contextTokens, ["thinkingBudgetTokens"] = thinkingBudget },
            ["asr"] = new JsonObject { ["id"] = whisperId, ["path"] = whisperFolder },
        };
        return WithModels(models, vadModel);
    }

    /// <summary>
    /// Turns Whisper's hallucination guards off in <paramref name="profile"/> (the keys of
    /// <c>TranscriptionSettings.Unguarded</c>; its languages stay). Random weights score every window below the
    /// log-probability threshold, so each would be decoded again at five temperatures with five samples each, which a
    /// trained model does on a rare window: a figure that times the pipeline as a trained model runs it needs one
    /// decode per window.
    /// </summary>
    public static JsonObject WithoutHallucinationGuards(JsonObject profile)
    {
        var transcription = profile["transcription"] as JsonObject ?? [];
        transcription["noSpeechThreshold"] = null;
        transcription["logProbThreshold"] = null;
        transcription["compressionRatioThreshold"] = null;
        transcription["temperatures"] = new JsonArray(0.0);
        transcription["repetitionLimit"] = 0;
        profile["transcription"] = transcription;
        return profile;
    }

    /// <summary>dev-x64 for a fleet figure's hub: the forged Whisper as <c>asr</c> (for <c>asr.transcribe</c>) and the VAD; no language model, no wake word; the shipped meeting capacity.</summary>
    public static JsonObject FleetHub(string whisperFolder, string? vadModel)
    {
        return WithModels(new JsonObject { ["asr"] = new JsonObject { ["id"] = "whisper-base-forged", ["path"] = whisperFolder } }, vadModel);
    }

    /// <summary>
    /// dev-x64 with every model forged tiny into <paramref name="folder"/> (seconds of work): a whisper-tiny as <c>asr</c>, its
    /// end-of-text bias set so that it writes a few words per utterance rather than its whole 448-token window
    /// (<c>whisper-tiny</c>), a tiny R1 with a 2048-token context as <c>voiceLlm</c> (<c>tiny-voice</c>) and as
    /// <c>summaryLlm</c> (<c>tiny-summary</c>, thinking budget 16 tokens); the energy VAD, no wake word.
    /// </summary>
    /// <param name="folder">Where the models are forged.</param>
    /// <param name="llmFolder">The tiny R1's folder, for <c>models.load</c>.</param>
    public static JsonObject TinyModels(string folder, out string llmFolder)
    {
        var whisper = Path.Combine(folder, "whisper-tiny");
        Appliance.ModelForge.Whisper.WhisperForge.Write(Appliance.ModelForge.Whisper.WhisperPreset.Tiny, 7, whisper, endOfTextBias: SummarySettings.EndOfTextBiasDefault);
        llmFolder = Path.Combine(folder, "llm-tiny");
        Appliance.ModelForge.Llm.LlmForge.Write(Appliance.ModelForge.Llm.LlmPreset.Tiny with { Name = "tiny-2k", ContextLength = 2048 }, 42, llmFolder);
        var profile = WithSummaryModels(whisper, "whisper-tiny", llmFolder, "tiny-summary", 2048, 16, vadModel: null);
        profile["models"]!["voiceLlm"] = new JsonObject { ["id"] = "tiny-voice", ["path"] = llmFolder, ["contextTokens"] = 2048 };
        return profile;
    }

    /// <summary>dev-x64 with its <c>models</c> section replaced by <paramref name="models"/>, and the Silero VAD added when given.</summary>
    private static JsonObject WithModels(JsonObject models, string? vadModel)
    {
        if (vadModel is not null)
        {
            models["vad"] = new JsonObject { ["id"] = "silero-vad", ["path"] = vadModel };
        }

        var profile = DevX64();
        profile["models"] = models;
        return profile;
    }

    /// <summary>Writes <paramref name="profile"/> into <paramref name="folder"/> and returns the file's path.</summary>
    public static string Write(JsonObject profile, string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".json");
        File.WriteAllText(path, profile.ToJsonString());
        return path;
    }
}
