using Appliance.Contracts;
using MQTTnet.Formatter;
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
        // Clients may leave the id empty and have the broker assign one: MQTT 5 clients (mosquitto_sub -V 5), and MQTT
        // 3.1.1 clients with a clean session (mosquitto_sub -V 311), which Mosquitto allows by default.
        if (string.IsNullOrEmpty(args.ClientId))
        {
            args.AssignedClientIdentifier = $"auto-{Guid.NewGuid():N}";
            if (args.ProtocolVersion != MqttProtocolVersion.V500 && args.CleanSession == true)
            {
                AssignToMqtt311Client(args, args.AssignedClientIdentifier);
            }
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

    /// <summary>
    /// MQTTnet 5.2 takes an assigned client id from MQTT 5 clients only and refuses an empty 3.1.1 id after this hook,
    /// although MQTT 3.1.1 (section 3.1.3.1) lets a server accept one with a clean session and assign an id. The event
    /// offers no setter, so the id is written into the CONNECT packet it wraps. The contract test of 3.1.1 clients on
    /// the embedded broker fails if an MQTTnet update changes this.
    /// </summary>
    private static void AssignToMqtt311Client(ValidatingConnectionEventArgs args, string clientId)
    {
        if (s_connectPacket?.GetValue(args) is MQTTnet.Packets.MqttConnectPacket packet)
        {
            packet.ClientId = clientId;
        }
    }

    private static readonly System.Reflection.FieldInfo? s_connectPacket =
        typeof(ValidatingConnectionEventArgs).GetField("_connectPacket", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);

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
