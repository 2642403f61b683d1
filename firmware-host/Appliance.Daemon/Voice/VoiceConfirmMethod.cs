using Appliance.Contracts;
using Appliance.Daemon.Rpc;

namespace Appliance.Daemon.Voice;

/// <summary>
/// <c>voice.confirm</c>: yes or no to the command that waits for its confirmation, as an app or a button gives it. The
/// answer to an utterance that is not waiting (answered, expired, replaced, or never asked) is <c>invalid_state</c>.
/// </summary>
internal sealed class VoiceConfirmMethod(VoiceCommands commands) : RpcHandler<VoiceConfirmParams, VoiceIntent>(RpcMethods.VoiceConfirm)
{
    protected override async Task<RpcResult<VoiceIntent>> HandleAsync(VoiceConfirmParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (commands.Interpreter is null)
        {
            return Fail(RpcErrorCodes.Unavailable, VoiceTextMethod.NoCommands);
        }

        if (parameters is not { UtteranceId: { Length: > 0 } utteranceId, Confirmed: { } confirmed })
        {
            return Fail(RpcErrorCodes.InvalidParams, "voice.confirm needs {\"utteranceId\": \"...\", \"confirmed\": true or false}");
        }

        var outcome = await commands.ConfirmAsync(utteranceId, confirmed, cancellationToken).ConfigureAwait(false);
        return outcome is { Intent: { } intent, Problem: null } ? Ok(intent) : Fail(RpcErrorCodes.InvalidState, outcome.Problem!);
    }
}
