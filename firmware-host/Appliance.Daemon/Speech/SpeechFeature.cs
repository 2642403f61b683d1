using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Hardware;
using Appliance.Inference;
using Appliance.Profiles;
using Appliance.Speech;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Speech: the profile's <see cref="SpeechModels"/> (shared with meetings), the microphone pipeline with its voice
/// events, and <c>asr.transcribe</c>/<c>asr.cancel</c>.
/// </summary>
internal static class SpeechFeature
{
    public static IServiceCollection AddSpeech(this IServiceCollection services, DeviceProfile profile)
    {
        services.AddSingleton(sp =>
        {
            var paths = sp.GetRequiredService<ModelPaths>();
            var models = profile.Models with { Asr = paths.Resolve(profile.Models.Asr), Vad = paths.Resolve(profile.Models.Vad), WakeWord = paths.Resolve(profile.Models.WakeWord) };
            return new SpeechModels(models, sp.GetRequiredService<InferenceSettings>(), profile.Transcription);
        });
        services.AddSingleton<SpeechHost>();
        services.AddHostedService(sp => sp.GetRequiredService<SpeechHost>());
        services.AddSingleton<IModelStatusSource>(sp => sp.GetRequiredService<SpeechHost>());
        services.AddSingleton<AsrRequests>();
        services.AddRpcMethod<AsrTranscribeMethod>();
        services.AddRpcMethod<AsrCancelMethod>();
        services.AddSingleton<IMicrophone>(sp => profile.Audio.Device is { Length: > 0 } alsa && alsa != "simulated"
            ? new AlsaMicrophone(alsa, profile.Audio.SampleRate, profile.Audio.Channels)
            : new SimulatedMicrophone(profile.Audio.SampleRate, profile.Audio.Channels, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<VoicePipeline>();
        return services;
    }
}
