using Appliance.Daemon.Status;

namespace Appliance.Daemon.Rpc;

/// <summary><c>status.get</c>: the status document as it stands now (the retained one may be up to a refresh period old).</summary>
internal sealed class StatusGetMethod(StatusPublisher status) : IRpcMethod
{
    public string Name => "status.get";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(status.Current()));
}

/// <summary><c>profile.get</c>: the device profile the daemon runs with, as loaded and validated.</summary>
internal sealed class ProfileGetMethod(DeviceContext device) : IRpcMethod
{
    public string Name => "profile.get";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(device.Profile));
}

/// <summary><c>health.get</c>: every health check with its status and detail.</summary>
internal sealed class HealthGetMethod(HealthMonitor health) : IRpcMethod
{
    public string Name => "health.get";

    public Task<RpcOutcome> InvokeAsync(RpcCall request, CancellationToken cancellationToken) =>
        Task.FromResult(RpcOutcome.Success(health.Snapshot()));
}
