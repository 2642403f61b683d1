using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon;

/// <summary>Where the daemon's MQTT traffic goes: its own embedded broker, or a broker it connects to.</summary>
public enum MqttMode
{
    Embedded,
    External,
}

/// <summary>The <c>Mqtt</c> configuration section (documented in docs/configuration.md).</summary>
public sealed class MqttOptions
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
}

public sealed class EmbeddedBrokerOptions
{
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 1883;

    /// <summary>How long the broker waits for a packet it expects (a new connection's CONNECT, an acknowledgement) before dropping the client.</summary>
    [Range(1, 300)]
    public int CommunicationTimeoutSeconds { get; set; } = 5;

    [ValidateObjectMembers]
    public BrokerTlsOptions Tls { get; set; } = new();

    [ValidateObjectMembers]
    public BrokerAuthenticationOptions Authentication { get; set; } = new();
}

public sealed class BrokerTlsOptions
{
    public bool Enabled { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 8883;

    /// <summary>A PKCS#12 (.pfx/.p12) file, or a PEM certificate with <see cref="KeyPath"/>.</summary>
    public string? CertificatePath { get; set; }

    public string? CertificatePassword { get; set; }

    /// <summary>The PEM private key, when <see cref="CertificatePath"/> is a PEM certificate.</summary>
    public string? KeyPath { get; set; }
}

public sealed class BrokerAuthenticationOptions
{
    /// <summary>When on, every client needs a configured username and password.</summary>
    public bool Enabled { get; set; }

    [ValidateEnumeratedItems]
    public List<BrokerUser> Users { get; set; } = [];
}

/// <summary>A broker account. With a device id the account reaches only that device's topics; without one it is an operator account.</summary>
public sealed class BrokerUser
{
    [Required]
    public string Username { get; set; } = "";

    [Required]
    public string Password { get; set; } = "";

    public string? DeviceId { get; set; }
}

public sealed class ExternalBrokerOptions
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
}

/// <summary>The <c>Rpc</c> section.</summary>
public sealed class RpcOptions
{
    public const string Section = "Rpc";

    [Range(256, 16 * 1024 * 1024)]
    public int MaxPayloadBytes { get; set; } = Contracts.ContractLimits.DefaultMaxRpcPayloadBytes;

    /// <summary>Requests handled at the same time (a streaming generation holds one slot while it waits in the LLM queue).</summary>
    [Range(1, 256)]
    public int MaxConcurrent { get; set; } = 16;

    /// <summary>Requests waiting beyond the ones in work; more are answered with a "busy" error.</summary>
    [Range(1, 10_000)]
    public int QueueCapacity { get; set; } = 64;

    /// <summary>How long a finished request's reply is kept for redeliveries with the same idempotency key.</summary>
    [Range(1, 86_400)]
    public int IdempotencyWindowSeconds { get; set; } = 600;

    [Range(16, 100_000)]
    public int IdempotencyCapacity { get; set; } = 1024;
}

/// <summary>The <c>Status</c> section.</summary>
public sealed class StatusOptions
{
    public const string Section = "Status";

    /// <summary>How often the retained status is refreshed (uptime, health) between change-driven updates.</summary>
    [Range(1, 86_400)]
    public int RefreshSeconds { get; set; } = 60;
}

/// <summary>The <c>Simulation</c> section: how simulated hardware behaves on boards (or tests) without it.</summary>
public sealed class SimulationOptions
{
    public const string Section = "Simulation";

    public int Seed { get; set; } = 1;

    [Range(0.0, 1.0)]
    public double ChecksumFailureRate { get; set; } = 0.05;

    [Range(-40.0, 85.0)]
    public double BaseTemperatureC { get; set; } = 21.5;

    [Range(0.0, 100.0)]
    public double BaseHumidityPercent { get; set; } = 45;
}

/// <summary>The <c>Device</c> section.</summary>
public sealed class DeviceOptions
{
    public const string Section = "Device";

    /// <summary>Overrides the profile's device id.</summary>
    public string? Id { get; set; }
}

/// <summary>The <c>Models</c> section.</summary>
public sealed class ModelsOptions
{
    public const string Section = "Models";

    /// <summary>Folder that the profile's relative model paths are resolved against.</summary>
    public string Root { get; set; } = "models";
}

/// <summary>The <c>Llm</c> section.</summary>
public sealed class LlmOptions
{
    public const string Section = "Llm";

    /// <summary>Generations run at the same time; more wait in the priority queue (voice ahead of summaries).</summary>
    [Range(1, 16)]
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>Requests that may wait; more are refused with "queue_full".</summary>
    [Range(0, 10_000)]
    public int QueueCapacity { get; set; } = 32;

    /// <summary>Let the model's idle threads spin: about 8 % faster decoding, but a whole core burnt between tokens.</summary>
    public bool AllowSpinning { get; set; }
}

[OptionsValidator]
internal sealed partial class LlmOptionsValidator : IValidateOptions<LlmOptions>;

[OptionsValidator]
internal sealed partial class MqttOptionsValidator : IValidateOptions<MqttOptions>;

[OptionsValidator]
internal sealed partial class RpcOptionsValidator : IValidateOptions<RpcOptions>;

[OptionsValidator]
internal sealed partial class StatusOptionsValidator : IValidateOptions<StatusOptions>;

[OptionsValidator]
internal sealed partial class SimulationOptionsValidator : IValidateOptions<SimulationOptions>;
