using Appliance.Contracts;
using Appliance.Daemon.Rpc;

namespace Appliance.Daemon.Voice;

/// <summary>
/// <c>voice.text</c>: an utterance given as text, interpreted as if it had been spoken, its result returned and
/// published on <c>voice/intents</c> (a command that needs confirmation waits for it; a yes or no answers the waiting one). Bad requests (no text, text over the schema's limit, a language the device does
/// not take) are <c>invalid_params</c>; a profile without commands is <c>unavailable</c>.
/// </summary>
internal sealed class VoiceTextMethod(VoiceCommands commands) : RpcHandler<VoiceTextParams, VoiceIntent>(RpcMethods.VoiceText)
{
    /// <summary>An utterance is interpreted on its own against the profile's schema: any hub of a fleet may serve it.</summary>
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

        var language = parameters.Language ?? commands.DefaultLanguage;
        if (commands.Languages is { } languages ? !languages.Contains(language, StringComparer.Ordinal) : language.Length is < 2 or > 3 || !language.All(char.IsAsciiLetterLower))
        {
            return Fail(RpcErrorCodes.InvalidParams, $"language '{language}' is not one this device takes{(commands.Languages is { } known ? $" ({string.Join(", ", known)})" : "")}");
        }

        return Ok(await commands.InterpretAsync(parameters.Text, language, cancellationToken).ConfigureAwait(false));
    }
}
