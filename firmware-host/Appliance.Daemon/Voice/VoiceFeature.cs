using Appliance.Daemon.Rpc;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Voice;

/// <summary>Voice commands: the profile's command schema, spoken replies, <c>voice.text</c> and <c>voice.confirm</c>, and the <c>voice/intents</c> channel.</summary>
internal static class VoiceFeature
{
    public static IServiceCollection AddVoice(this IServiceCollection services)
    {
        services.AddSingleton<VoiceCommands>();
        services.AddSingleton<SpokenReplies>();
        services.AddHostedService(sp => sp.GetRequiredService<SpokenReplies>());
        services.AddRpcMethod<VoiceTextMethod>();
        services.AddRpcMethod<VoiceAudioMethod>();
        services.AddRpcMethod<VoiceConfirmMethod>();
        return services;
    }
}
