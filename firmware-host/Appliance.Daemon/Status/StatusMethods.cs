using Appliance.Contracts;
using System.Buffers;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Rpc;
using Appliance.Profiles;
using MQTTnet;

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

/// <summary>
/// <c>fleet.status</c>: every device of this hub's fleet group, folded from the retained status documents on
/// <c>appliance/v1/+/status</c> (subscribed in fleet mode only) with this hub's own document as it stands now. Any hub
/// answers it, on its device topic or on the fleet topic; a device in no group answers <c>unavailable</c>.
/// </summary>
internal sealed class FleetStatusMethod : RpcHandler<EmptyParams, FleetStatusResult>
{
    private readonly StatusPublisher _status;
    private readonly FleetDirectory? _directory;

    public FleetStatusMethod(MqttConnection mqtt, DeviceContext device, StatusPublisher status)
        : base(RpcMethods.FleetStatus)
    {
        _status = status;
        if (device.FleetGroup is { } group)
        {
            _directory = new FleetDirectory(group);
            mqtt.Subscribe(new MqttSubscription(Topics.StatusFilter, Channels.Status.Qos, OnStatusAsync));
        }
    }

    public override bool FleetServed => true;

    protected override Task<RpcResult<FleetStatusResult>> HandleAsync(EmptyParams parameters, RpcCall call, CancellationToken cancellationToken)
    {
        if (_directory is null)
        {
            return Task.FromResult(Fail(RpcErrorCodes.Unavailable, "this device is in no fleet group (Fleet:Group is not set): ask status.get instead"));
        }

        _directory.Apply(_status.Current());
        return Task.FromResult(Ok(_directory.Snapshot()));
    }

    private Task OnStatusAsync(MqttApplicationMessage message)
    {
        _directory!.Apply(message.Topic, message.Payload.IsSingleSegment ? message.Payload.FirstSpan : message.Payload.ToArray());
        return Task.CompletedTask;
    }
}
