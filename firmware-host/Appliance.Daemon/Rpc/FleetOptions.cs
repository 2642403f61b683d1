using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Rpc;

/// <summary>The <c>Fleet</c> configuration section: the group of hubs this daemon shares stateless work with.</summary>
internal sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>
    /// The fleet group, or null for a daemon on its own. In a group, the daemon also takes its turn at the requests on
    /// <c>appliance/v1/fleet/{Group}/rpc/{method}</c> through an MQTT 5 shared subscription, for the methods that keep
    /// no state between requests. Needs an external broker that serves shared subscriptions.
    /// </summary>
    public string? Group { get; set; }
}

/// <summary>
/// A group name is one topic level (the device-id rule), and fleet mode needs an external broker: the embedded
/// MQTTnet broker refuses <c>$share</c> subscriptions (SUBACK 0x9E), so the start stops with that reason.
/// </summary>
internal sealed class FleetOptionsValidator(IOptions<MqttOptions> mqtt) : IValidateOptions<FleetOptions>
{
    public ValidateOptionsResult Validate(string? name, FleetOptions options)
    {
        if (options.Group is not { } group)
        {
            return ValidateOptionsResult.Success;
        }

        if (!Identifiers.IsValidDeviceId(group))
        {
            return ValidateOptionsResult.Fail($"Fleet:Group '{group}' is not a valid group name: use {Identifiers.DeviceIdDescription} (it is a topic level and the shared subscription's group).");
        }

        return mqtt.Value.Mode == MqttMode.External
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail($"Fleet:Group '{group}' needs an external broker (Mqtt:Mode=External) that serves MQTT 5 shared subscriptions, such as Mosquitto, EMQX, HiveMQ or VerneMQ: the embedded broker does not, so a fleet cannot share work through it.");
    }
}
