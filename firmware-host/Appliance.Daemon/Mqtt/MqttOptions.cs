using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Mqtt;

/// <summary>Where the daemon's MQTT traffic goes: its own embedded broker, or a broker it connects to.</summary>
internal enum MqttMode
{
    Embedded,
    External,
}

/// <summary>The <c>Mqtt</c> configuration section (documented in docs/configuration.md).</summary>
internal sealed class MqttOptions
{
    public const string Section = "Mqtt";

    public MqttMode Mode { get; set; } = MqttMode.Embedded;

    [ValidateObjectMembers]
    public EmbeddedBrokerOptions Broker { get; set; } = new();

    [ValidateObjectMembers]
    public ExternalBrokerOptions External { get; set; } = new();

    /// <summary>How long start-up waits for the first broker connection before going on (the reconnect loop keeps trying).</summary>
    [Range(1, 300)]
    public int StartupConnectTimeoutSeconds { get; set; } = 5;

    [Range(50, 60_000)]
    public int ReconnectInitialDelayMs { get; set; } = 500;

    [Range(100, 600_000)]
    public int ReconnectMaxDelayMs { get; set; } = 30_000;

    [Range(2, 3600)]
    public int KeepAliveSeconds { get; set; } = 15;

    /// <summary>
    /// The default <see cref="MaximumPacketSize"/>: the largest request of the contract (<c>asr.transcribe</c>'s 16 MiB of
    /// JSON) plus 64 KiB for the topic, the MQTT 5 properties and the MQTT 3.1.1 envelope.
    /// </summary>
    public const int DefaultMaximumPacketSize = Speech.AsrTranscribeMethod.MaxAudioPayloadBytes + 64 * 1024;

    /// <summary>
    /// The largest MQTT packet, in bytes with its fixed header, that the daemon takes: the embedded broker announces it
    /// in its CONNACK and refuses a larger packet from its header, before buffering it; on an external broker the
    /// daemon's client announces it in its CONNECT, so an MQTT 5 broker drops larger messages instead of delivering
    /// them. Between 128 KiB and MQTT's own limit of 268435455 bytes.
    /// </summary>
    [Range(128 * 1024, 268_435_455)]
    public int MaximumPacketSize { get; set; } = DefaultMaximumPacketSize;
}

internal sealed class EmbeddedBrokerOptions
{
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    /// <summary>The plain TCP port; 0 lets the operating system pick a free one (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 1883;

    /// <summary>How long the broker waits for a packet it expects (a new connection's CONNECT, an acknowledgement) before dropping the client.</summary>
    [Range(1, 300)]
    public int CommunicationTimeoutSeconds { get; set; } = 5;

    [ValidateObjectMembers]
    public BrokerTlsOptions Tls { get; set; } = new();

    [ValidateObjectMembers]
    public BrokerAuthenticationOptions Authentication { get; set; } = new();
}

internal sealed class BrokerTlsOptions
{
    public bool Enabled { get; set; }

    /// <summary>The TLS port; 0 lets the operating system pick a free one (tests).</summary>
    [Range(0, 65535)]
    public int Port { get; set; } = 8883;

    /// <summary>A PKCS#12 (.pfx/.p12) file, or a PEM certificate with <see cref="KeyPath"/>.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>The PEM private key, when <see cref="CertificatePath"/> is a PEM certificate.</summary>
    public string? KeyPath { get; set; }
}

internal sealed class BrokerAuthenticationOptions
{
    /// <summary>When on, every client needs a configured username and password.</summary>
    public bool Enabled { get; set; }

    [ValidateEnumeratedItems]
    public List<BrokerUser> Users { get; set; } = [];
}

/// <summary>A broker account. With a device id the account reaches only that device's topics; without one it is an operator account.</summary>
internal sealed class BrokerUser
{
    [Required]
    public string Username { get; set; } = "";

    [Required]
    public string Password { get; set; } = "";

    [MinLength(1)]
    [RegularExpression(Appliance.Contracts.Identifiers.DeviceIdRule, ErrorMessage = "a broker account's DeviceId must be a device id: " + Appliance.Contracts.Identifiers.DeviceIdDescription)]
    public string? DeviceId { get; set; }
}

internal sealed class ExternalBrokerOptions
{
    [Required]
    public string Host { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 1883;

    public bool UseTls { get; set; }

    public bool AllowUntrustedCertificates { get; set; }

    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>MQTT client id; defaults to <c>appliance-{deviceId}</c>.</summary>
    public string? ClientId { get; set; }

    /// <summary>The client id the daemon connects with: <see cref="ClientId"/>, or <c>appliance-{deviceId}</c>.</summary>
    public string ClientIdFor(string deviceId) => ClientId ?? $"appliance-{deviceId}";
}

[OptionsValidator]
internal sealed partial class MqttOptionsValidator : IValidateOptions<MqttOptions>;
