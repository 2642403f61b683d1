using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Inference;
using Appliance.Llm;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Llm;

/// <summary>Language models: the <see cref="LlmService"/> with the profile's models, <c>llm.*</c> and <c>models.*</c>.</summary>
internal static class LlmFeature
{
    public static IServiceCollection AddLlm(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedOptions<LlmOptions, LlmOptionsValidator>(configuration, LlmOptions.Section);
        // One set of settings for every language model the daemon loads: the service's, and the candidates an update
        // smoke-tests before it switches.
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<LlmOptions>>().Value;
            return LlmServiceOptions.FromProfile(sp.GetRequiredService<DeviceContext>().Profile) with
            {
                Inference = sp.GetRequiredService<InferenceSettings>() with { Spinning = options.Spinning, CpuMemoryArena = options.CpuArena },
                MaxConcurrency = options.MaxConcurrency,
                QueueCapacity = options.QueueCapacity,
            };
        });
        services.AddSingleton(sp => new LlmService(
            sp.GetRequiredService<LlmServiceOptions>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<LlmService>>()));
        services.AddSingleton<LlmHost>();
        services.AddHostedService(sp => sp.GetRequiredService<LlmHost>());
        services.AddSingleton<IModelStatusSource>(sp => sp.GetRequiredService<LlmHost>());
        services.AddRpcMethod<LlmChatMethod>();
        services.AddRpcMethod<LlmCancelMethod>();
        services.AddRpcMethod<ModelsListMethod>();
        services.AddRpcMethod<ModelsLoadMethod>();
        services.AddRpcMethod<ModelsUnloadMethod>();
        services.AddRpcMethod<ModelsSelectMethod>();
        return services;
    }
}
