using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Profiles;

namespace Appliance.Daemon.Status;

/// <summary><c>status.get</c>: the status document as it stands now (the retained one may be up to a refresh period old).</summary>
internal sealed class StatusGetMethod(StatusPublisher status) : RpcHandler<EmptyParams, StatusDocument>(RpcMethods.StatusGet)
{
    protected override Task<RpcResult<StatusDocument>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(Ok(status.Current()));
}

/// <summary><c>profile.get</c>: the device profile the daemon runs with, as loaded and validated.</summary>
internal sealed class ProfileGetMethod(DeviceContext device) : RpcHandler<EmptyParams, DeviceProfile>(RpcMethods.ProfileGet)
{
    protected override Task<RpcResult<DeviceProfile>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(Ok(device.Profile));
}

/// <summary><c>health.get</c>: every health check with its status and detail.</summary>
internal sealed class HealthGetMethod(HealthMonitor health) : RpcHandler<EmptyParams, HealthReport>(RpcMethods.HealthGet)
{
    protected override Task<RpcResult<HealthReport>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken) =>
        Task.FromResult(Ok(health.Snapshot()));
}
