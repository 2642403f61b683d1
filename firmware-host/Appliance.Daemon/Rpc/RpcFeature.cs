using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Rpc;

/// <summary>The request path: the dispatcher that serves every <see cref="IRpcMethod"/> the features register.</summary>
internal static class RpcFeature
{
    public static IServiceCollection AddRpc(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<RpcOptions, RpcOptionsValidator>(configuration, RpcOptions.Section);
        services.AddValidatedOptions<FleetOptions, FleetOptionsValidator>(configuration, FleetOptions.Section);
        services.AddHostedService<RpcDispatcher>();
        return services;
    }

    /// <summary>Registers a method for the dispatcher.</summary>
    public static IServiceCollection AddRpcMethod<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TMethod>(this IServiceCollection services)
        where TMethod : class, IRpcMethod => services.AddSingleton<IRpcMethod, TMethod>();
}
