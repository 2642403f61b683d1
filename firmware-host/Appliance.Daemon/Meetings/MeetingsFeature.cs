using Appliance.Daemon.Device;
using Appliance.Daemon.Rpc;
using Appliance.Llm;
using Appliance.Meetings;
using Appliance.Meetings.Pipeline;
using Appliance.Profiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Meetings;

/// <summary>
/// Meetings from earbuds: the session store on disk, the audio ingest, the <see cref="MeetingPipeline"/> (transcript and
/// summary, with the speech models and the profile's summary model), their events on MQTT, and the <c>meetings.*</c>
/// methods (the control topic's commands among them).
/// </summary>
internal static class MeetingsFeature
{
    public static IServiceCollection AddMeetings(this IServiceCollection services, IConfiguration configuration, DeviceProfile profile)
    {
        services.AddValidatedOptions<MeetingsOptions, MeetingsOptionsValidator>(configuration, MeetingsOptions.Section);
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<MeetingsOptions>>().Value;
            return new MeetingSessionManager(
                new MeetingStoreOptions { RootDirectory = Path.GetFullPath(options.Root), ReorderWindow = options.ReorderWindow, MaxFrameBytes = options.MaxFrameBytes, Retention = TimeSpan.FromDays(options.RetentionDays), Capacity = profile.Meetings.Capacity, MinFreeBytes = options.MinFreeBytes },
                sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new MeetingIngest(
            sp.GetRequiredService<MeetingSessionManager>(),
            sp.GetRequiredService<IOptions<MeetingsOptions>>().Value.IngestQueueFrames,
            sp.GetRequiredService<TimeProvider>(),
            TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<MeetingsOptions>>().Value.CommitIntervalMilliseconds)));
        services.AddSingleton<IMeetingEvents, MeetingEventsPublisher>();
        services.AddSingleton(sp =>
        {
            var llm = sp.GetRequiredService<LlmService>();
            return new MeetingPipeline(
                sp.GetRequiredService<MeetingSessionManager>(),
                sp.GetRequiredService<MeetingIngest>(),
                sp.GetRequiredService<Appliance.Speech.SpeechModels>(),
                () => SummaryModelNow(llm, profile.Models.SummaryLlm),
                sp.GetRequiredService<IMeetingEvents>(),
                sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<MeetingPipeline>>());
        });

        // Stopped in reverse order: the ingest journals what was received, then the meetings' runs end.
        services.AddHostedService<MeetingsService>();
        services.AddHostedService<MeetingIngestService>();
        services.AddRpcMethod<MeetingsStartMethod>();
        services.AddRpcMethod<MeetingsStopMethod>();
        services.AddRpcMethod<MeetingsAbortMethod>();
        services.AddRpcMethod<MeetingsListMethod>();
        services.AddRpcMethod<MeetingsGetMethod>();
        services.AddRpcMethod<MeetingsDeleteMethod>();
        return services;
    }

    /// <summary>The profile's summary model when it is loaded now, at batch priority; null otherwise (the summary is then extractive).</summary>
    private static SummaryModel? SummaryModelNow(LlmService llm, ModelSpec? spec)
    {
        if (spec is null || llm.Models.FirstOrDefault(m => m.Id == spec.Id && m.State == LlmModelState.Loaded) is not { } loaded)
        {
            return null;
        }

        var contextTokens = loaded.ContextTokens ?? spec.ContextTokens ?? 4096;
        var thinking = SummaryModel.ThinkingBudgetFor(spec.ThinkingBudgetTokens, contextTokens);
        return new SummaryModel(
            new LlmChatClient(llm, spec.Id, LlmPriority.Batch, thinking),
            contextTokens,
            thinking,
            text => llm.CountTokens(spec.Id, text) ?? (text.Length / 4) + 1);
    }
}
