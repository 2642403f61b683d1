using Appliance.Daemon.Rpc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Ota;

/// <summary>Over-the-air model updates: the slots opened at build time, the update service, <c>ota.*</c> and <c>ota/progress</c>.</summary>
internal static class OtaFeature
{
    public static IServiceCollection AddOta(this IServiceCollection services, IConfiguration configuration, OtaSlots slots)
    {
        services.AddValidatedOptions<OtaOptions, OtaOptionsValidator>(configuration, OtaOptions.Section);
        services.AddSingleton(slots);
        services.AddSingleton<DaemonRestart>();
        services.AddSingleton<OtaService>();
        services.AddHostedService(sp => sp.GetRequiredService<OtaService>());
        services.AddRpcMethod<OtaCheckMethod>();
        services.AddRpcMethod<OtaUpdateMethod>();
        services.AddRpcMethod<OtaStatusMethod>();
        services.AddRpcMethod<OtaRollbackMethod>();
        return services;
    }
}
