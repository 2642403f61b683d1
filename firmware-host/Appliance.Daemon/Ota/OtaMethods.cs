using Appliance.Contracts;
using Appliance.Daemon.Rpc;

namespace Appliance.Daemon.Ota;

/// <summary>Shared answers of the <c>ota.*</c> methods.</summary>
internal static class OtaAnswers
{
    public const string Off = "over-the-air updates are off on this device: set Ota:Repository";
}

/// <summary><c>ota.check</c>: reads the repository (signed metadata only, no model bytes) and says what this device would install.</summary>
internal sealed class OtaCheckMethod(OtaService ota) : RpcHandler<OtaBundleParams, OtaCheckResult>(RpcMethods.OtaCheck)
{
    protected override async Task<RpcResult<OtaCheckResult>> HandleAsync(OtaBundleParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (!ota.Enabled)
        {
            return Fail(RpcErrorCodes.Unavailable, OtaAnswers.Off);
        }

        var check = await ota.CheckAsync(parameters.Bundle, cancellationToken).ConfigureAwait(false);
        return Ok(new OtaCheckResult(
            check.UpdateAvailable,
            check.Bundle,
            check.Bundle is null ? null : check.Release,
            [.. check.Targets.Values.Select(t => new OtaTargetInfo(t.Custom.Feature, t.Custom.ModelId, t.Custom.Release, t.Length))],
            check.Refusal is { } r ? new OtaRefusalInfo(Appliance.Ota.OtaRefusalCodeNames.WireName(r.Code), r.Message) : null));
    }
}

/// <summary><c>ota.update</c>: starts an update and answers at once; its stages go to <c>ota/progress</c>. One runs at a time.</summary>
internal sealed class OtaUpdateMethod(OtaService ota) : RpcHandler<OtaBundleParams, OtaUpdateResult>(RpcMethods.OtaUpdate)
{
    protected override Task<RpcResult<OtaUpdateResult>> HandleAsync(OtaBundleParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(!ota.Enabled ? Fail(RpcErrorCodes.Unavailable, OtaAnswers.Off)
            : ota.TryStartUpdate(parameters.Bundle) is { } busy ? Fail(RpcErrorCodes.Busy, busy)
            : Ok(new OtaUpdateResult(true, parameters.Bundle)));
}

/// <summary><c>ota.status</c>: the slots, the health window, the last rollback and the last stage.</summary>
internal sealed class OtaStatusMethod(OtaService ota, OtaSlots slots) : RpcHandler<EmptyParams, OtaState>(RpcMethods.OtaStatus)
{
    protected override Task<RpcResult<OtaState>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(slots.State(ota.LastProgress) is { } state ? Ok(state) : Fail(RpcErrorCodes.Unavailable, OtaAnswers.Off));
}

/// <summary><c>ota.rollback</c>: back to the models before the last switch; the daemon restarts into them after answering.</summary>
internal sealed class OtaRollbackMethod(OtaService ota) : RpcHandler<OtaRollbackParams, OtaState>(RpcMethods.OtaRollback)
{
    protected override Task<RpcResult<OtaState>> HandleAsync(OtaRollbackParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(!ota.Enabled ? Fail(RpcErrorCodes.Unavailable, OtaAnswers.Off)
            : ota.Rollback(parameters.Reason is { Length: > 0 } reason ? $"requested: {reason}" : "requested") is { } state ? Ok(state)
            : Fail(RpcErrorCodes.InvalidState, ota.Running ? "an update is running; roll back once it has ended" : "there is no previous model set to go back to: the last update's models were replaced by a newer install, or none was installed"));
}
