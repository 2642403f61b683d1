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
    /// Silero from <paramref name="model"/> (a <c>.onnx</c> file, or a folder holding <c>silero_vad.onnx</c>), or
    /// <see cref="EnergyVoiceActivityDetector"/> with the reason when no model is configured or it cannot be loaded.
    /// Throws <see cref="ArgumentException"/> only for invalid <paramref name="options"/>.
    /// </summary>
    public static VadChoice Create(ModelSpec? model, VadOptions? options = null, SpeechSessionOptions? sessionOptions = null)
    {
        options ??= new VadOptions();
        if (model is null)
        {
            return new VadChoice(new EnergyVoiceActivityDetector(options), new SpeechError(SpeechErrorCode.ModelMissing, "No VAD model is configured."));
        }

        var path = Directory.Exists(model.Path) ? Path.Combine(model.Path, "silero_vad.onnx") : model.Path;
        var silero = SileroVoiceActivityDetector.Open(path, options, sessionOptions);
        return silero.IsSuccess
            ? new VadChoice(silero.Value, null)
            : new VadChoice(new EnergyVoiceActivityDetector(options), silero.Error);
    }
}
