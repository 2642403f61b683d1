using Appliance.Inference;
using Appliance.Profiles;

namespace Appliance.Speech.Vad;

/// <summary>A detector and, when it is the energy fallback, why the model was not used.</summary>
/// <param name="Detector">The detector; the caller owns and disposes it.</param>
/// <param name="FallbackReason">Null when the Silero model was loaded.</param>
public sealed record VadChoice(IVoiceActivityDetector Detector, SpeechError? FallbackReason);

/// <summary>Picks the detector for a profile: Silero when its model loads, otherwise the energy detector.</summary>
public static class VoiceActivityDetectors
{
    /// <summary>
    /// Loads the Silero graph of <paramref name="model"/> (a <c>.onnx</c> file, or a folder holding
    /// <c>silero_vad.onnx</c>) to share between detectors; the error says why not (no model configured, or it cannot be
    /// loaded).
    /// </summary>
    public static SpeechResult<SileroVadModel> Load(ModelSpec? model, InferenceSettings? settings = null)
    {
        if (model is null)
        {
            return SpeechResult.Failure<SileroVadModel>(SpeechErrorCode.ModelMissing, "No VAD model is configured.");
        }

        var path = Directory.Exists(model.Path) ? Path.Combine(model.Path, "silero_vad.onnx") : model.Path;
        return SileroVadModel.Load(path, settings);
    }

    /// <summary>
    /// A detector on the shared <paramref name="loaded"/> graph, or <see cref="EnergyVoiceActivityDetector"/> with the
    /// reason when it did not load. Throws <see cref="ArgumentException"/> only for invalid <paramref name="options"/>.
    /// </summary>
    public static VadChoice Create(SpeechResult<SileroVadModel> loaded, VadOptions? options = null)
    {
        options ??= new VadOptions();
        return loaded.IsSuccess
            ? new VadChoice(loaded.Value!.CreateDetector(options), null)
            : new VadChoice(new EnergyVoiceActivityDetector(options), loaded.Error);
    }
}
