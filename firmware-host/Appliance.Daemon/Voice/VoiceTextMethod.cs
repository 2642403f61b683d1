using Appliance.Contracts;
using Appliance.Daemon.Rpc;
using Appliance.Speech.Whisper;

namespace Appliance.Daemon.Voice;

/// <summary>
/// <c>voice.text</c>: an utterance given as text, interpreted as if it had been spoken, its result returned and
/// published on <c>voice/intents</c> (a command that needs confirmation waits for it; a yes or no answers the waiting one). Bad requests (no text, text over the schema's limit, a language the device does
/// not take) are <c>invalid_params</c>; a profile without commands is <c>unavailable</c>.
/// </summary>
internal sealed class VoiceTextMethod(VoiceCommands commands) : RpcHandler<VoiceTextParams, VoiceIntent>(RpcMethods.VoiceText)
{
    /// <summary>
    /// Any hub of a fleet may serve it: from the fleet topic it only interprets (nothing published, no confirmation
    /// begun or answered), so a retry that reaches another hub changes nothing.
    /// </summary>
    public override bool FleetServed => true;

    /// <summary>The error message of voice methods on a profile without commands.</summary>
    public const string NoCommands = "this device takes no voice commands: its profile has no commands section";

    protected override async Task<RpcResult<VoiceIntent>> HandleAsync(VoiceTextParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (commands.Interpreter is not { } interpreter)
        {
            return Fail(RpcErrorCodes.Unavailable, NoCommands);
        }

        if (string.IsNullOrWhiteSpace(parameters.Text))
        {
            return Fail(RpcErrorCodes.InvalidParams, "voice.text needs {\"text\": \"...\"}: the utterance, not empty");
        }

        if (parameters.Text.Length > interpreter.Schema.MaxUtteranceChars)
        {
            return Fail(RpcErrorCodes.InvalidParams, $"text is {parameters.Text.Length} characters; this device interprets at most {interpreter.Schema.MaxUtteranceChars}");
        }

        // A code or a locale tag (en, EN, en-US), as voice.audio and asr.transcribe take it.
        if (WhisperLanguages.Resolve(parameters.Language, commands.Languages, out var language) is { } languageProblem)
        {
            return Fail(RpcErrorCodes.InvalidParams, languageProblem);
        }

        return Ok(await commands.InterpretAsync(parameters.Text, language ?? commands.DefaultLanguage, cancellationToken, interpretOnly: call.FromFleet).ConfigureAwait(false));
    }
}
