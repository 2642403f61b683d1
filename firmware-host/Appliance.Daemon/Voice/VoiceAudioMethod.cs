using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Daemon.Speech;
using Appliance.Speech.Whisper;

namespace Appliance.Daemon.Voice;

/// <summary>
/// <c>voice.audio</c>: a spoken command as an audio clip (base64 WAV, MP3, Ogg Opus, or raw PCM with its format),
/// transcribed by Whisper in the profile's languages and interpreted as <c>voice.text</c> does. A clip that cannot be
/// read, one longer than the profile's <c>commands.maxUtteranceSeconds</c>, or a language the device does not take is
/// <c>invalid_params</c>; no speech model or no commands is <c>unavailable</c>.
/// </summary>
internal sealed class VoiceAudioMethod(VoiceCommands commands) : RpcHandler<VoiceAudioParams, VoiceIntent>(RpcMethods.VoiceAudio)
{
    public override int? MaxPayloadBytes => AsrTranscribeMethod.MaxAudioPayloadBytes;

    /// <summary>Any hub of a fleet may serve it: from the fleet topic it only transcribes and interprets, as <c>voice.text</c> does there.</summary>
    public override bool FleetServed => true;

    protected override async Task<RpcResult<VoiceIntent>> HandleAsync(VoiceAudioParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (commands.Interpreter is not { } interpreter)
        {
            return Fail(RpcErrorCodes.Unavailable, VoiceTextMethod.NoCommands);
        }

        if (parameters.Audio is not { Length: > 0 } base64)
        {
            return Fail(RpcErrorCodes.InvalidParams, "voice.audio needs {\"audio\": \"...\"}: the clip's bytes in base64");
        }

        if (WhisperLanguages.Resolve(parameters.Language, commands.Languages, out var language) is { } languageProblem)
        {
            return Fail(RpcErrorCodes.InvalidParams, languageProblem);
        }

        var (audio, readError) = RequestAudio.Decode(base64, parameters.Format, parameters.SampleRate, parameters.Channels);
        if (audio is null)
        {
            return Fail(RpcErrorCodes.InvalidParams, readError!);
        }

        var limit = interpreter.Schema.MaxUtteranceSeconds;
        if (audio.Duration.TotalSeconds > limit)
        {
            return Fail(RpcErrorCodes.InvalidParams, $"the clip is {audio.Duration.TotalSeconds:0.0} s; a spoken command on this device is at most {limit} s");
        }

        if (audio.Samples.Length == 0)
        {
            return Fail(RpcErrorCodes.InvalidParams, "the clip holds no audio");
        }

        var (intent, error) = await commands.InterpretSpokenAsync(audio.Samples, language, cancellationToken, interpretOnly: call.FromFleet).ConfigureAwait(false);
        return intent is not null ? Ok(intent) : Fail(error!.Code, error.Message);
    }
}
