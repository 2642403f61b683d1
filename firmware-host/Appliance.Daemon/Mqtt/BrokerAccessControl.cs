using Appliance.Contracts;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Appliance.Daemon.Mqtt;

/// <summary>
/// Authentication and topic ACL of the embedded broker. A user bound to a device id may publish and
/// subscribe only under <c>appliance/v1/{deviceId}/</c>; an operator (no device id) and the daemon's own
/// internal client reach everything. With authentication off, every client is an operator. The daemon's own client
/// id is refused to every other client, with or without authentication: a client using it would take the daemon's
/// session over and cut the appliance off its own broker.
/// </summary>
internal sealed class BrokerAccessControl
{
    private const string RoleKey = "appliance.role";

    private readonly Dictionary<string, BrokerUser> _users;
    private readonly bool _enabled;
    private readonly (string Username, string Password) _internal;
    private readonly string _daemonClientId;

    public BrokerAccessControl(BrokerAuthenticationOptions options, (string Username, string Password) internalCredentials, string daemonClientId)
    {
        _enabled = options.Enabled;
        _users = options.Users.ToDictionary(u => u.Username, StringComparer.Ordinal);
        _internal = internalCredentials;
        _daemonClientId = daemonClientId;
    }

    public Task ValidateConnectionAsync(ValidatingConnectionEventArgs args)
    {
        // MQTT 5 clients may leave the id empty and ask the broker to assign one (mosquitto_sub -V 5 does).
        if (string.IsNullOrEmpty(args.ClientId))
        {
            args.AssignedClientIdentifier = $"auto-{Guid.NewGuid():N}";
        }

        var isInternal = args.UserName == _internal.Username && FixedTimeEquals(args.Password, _internal.Password);
        if (!isInternal && args.ClientId == _daemonClientId)
        {
            args.ReasonCode = MqttConnectReasonCode.ClientIdentifierNotValid;
            args.ReasonString = $"the client id {_daemonClientId} is the appliance daemon's own";
            return Task.CompletedTask;
        }

        if (!_enabled || isInternal)
        {
            args.SessionItems[RoleKey] = Role.Operator;
        }
        else if (args.UserName is not null && _users.TryGetValue(args.UserName, out var user) && FixedTimeEquals(args.Password, user.Password))
        {
            args.SessionItems[RoleKey] = user.DeviceId is null ? Role.Operator : new Role(user.DeviceId);
        }
        else
        {
            args.ReasonCode = MqttConnectReasonCode.BadUserNameOrPassword;
        }

        return Task.CompletedTask;
    }

    public static Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs args)
    {
        if (!RoleOf(args.SessionItems).MaySubscribe(args.TopicFilter.Topic))
        {
            args.ProcessSubscription = false;
            args.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            args.ReasonString = "this account may only use its own device's topics";
        }

        return Task.CompletedTask;
    }

    public static Task InterceptPublishAsync(InterceptingPublishEventArgs args)
    {
        if (!RoleOf(args.SessionItems).MayPublish(args.ApplicationMessage.Topic))
        {
            args.ProcessPublish = false;
            args.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
            args.Response.ReasonString = "this account may only use its own device's topics";
        }

        return Task.CompletedTask;
    }

    private static Role RoleOf(System.Collections.IDictionary sessionItems) =>
        sessionItems[RoleKey] as Role ?? Role.Nobody;

    private static bool FixedTimeEquals(string? given, string expected) =>
        given is not null && System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(expected));

    /// <summary>What one connected client may reach: everything (operator), one device's topics, or nothing.</summary>
    internal sealed record Role(string? DeviceId, bool All = false)
    {
        public static readonly Role Operator = new(null, All: true);
        public static readonly Role Nobody = new(DeviceId: null);

        public bool MayPublish(string topic) => All || (DeviceId is not null && topic.StartsWith(Topics.DevicePrefix(DeviceId), StringComparison.Ordinal));

        public bool MaySubscribe(string filter)
        {
            if (All)
            {
                return true;
            }

            if (DeviceId is null)
            {
                return false;
            }

            // A shared subscription is judged by the filter it wraps. The device prefix must be spelled out: "+" or "#"
            // in its first three levels could reach other devices.
            return Topics.TryUnwrapSharedSubscription(filter, out var inner) && inner.StartsWith(Topics.DevicePrefix(DeviceId), StringComparison.Ordinal);
        }
    }
}
