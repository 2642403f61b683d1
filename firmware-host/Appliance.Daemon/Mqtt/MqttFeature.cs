using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Mqtt;

/// <summary>The MQTT endpoint: the embedded broker (unless the configuration names an external one) and the daemon's client.</summary>
internal static class MqttFeature
{
    /// <summary>Registers the broker (first up, last down) and the connection; call it before every feature that talks MQTT.</summary>
    public static IServiceCollection AddMqtt(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<MqttOptions, MqttOptionsValidator>(configuration, MqttOptions.Section);
        // Hosted services start in registration order and stop in the reverse one: the broker first up and last down.
        if (configuration.GetValue<MqttMode?>($"{MqttOptions.Section}:Mode") is null or MqttMode.Embedded)
        {
            services.AddSingleton<EmbeddedBroker>();
            services.AddHostedService(sp => sp.GetRequiredService<EmbeddedBroker>());
        }

        services.AddSingleton<MqttConnection>();
        services.AddHostedService(sp => sp.GetRequiredService<MqttConnection>());
        return services;
    }
}
