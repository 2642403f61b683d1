using Appliance.Daemon.Rpc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Status;

/// <summary>The retained status document and the <c>status.get</c>, <c>profile.get</c>, <c>health.get</c> and <c>fleet.status</c> methods.</summary>
internal static class StatusFeature
{
    public static IServiceCollection AddStatus(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<StatusOptions, StatusOptionsValidator>(configuration, StatusOptions.Section);
        services.AddSingleton<StatusPublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<StatusPublisher>());
        services.AddRpcMethod<StatusGetMethod>();
        services.AddRpcMethod<ProfileGetMethod>();
        services.AddRpcMethod<HealthGetMethod>();
        services.AddRpcMethod<FleetStatusMethod>();
        return services;
    }
}
