using Appliance.Inference;

namespace Appliance.Speech;

/// <summary>Opens the speech models' ONNX Runtime sessions through <see cref="InferenceSessions"/>, with failures as <see cref="SpeechResult{T}"/>.</summary>
internal static class SpeechSessions
{
    public static SpeechResult<OpenedSession> Open(string path, InferenceSettings settings)
    {
        var opened = InferenceSessions.Open(path, settings);
        return opened.IsSuccess
            ? SpeechResult.Success(opened.Session)
            : SpeechResult.Failure<OpenedSession>(opened.Error == SessionOpenError.ModelMissing ? SpeechErrorCode.ModelMissing : SpeechErrorCode.ModelInvalid, opened.Message);
    }
}
