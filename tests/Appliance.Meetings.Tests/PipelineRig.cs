using Appliance.Inference;
using Appliance.Meetings.Pipeline;
using Appliance.Profiles;
using Appliance.Speech;
using Microsoft.Extensions.Logging.Abstractions;

namespace Appliance.Meetings.Tests;

/// <summary>Store, ingest loop, speech models and pipeline for one test, torn down in order.</summary>
internal sealed class PipelineRig : IAsyncDisposable
{
    private readonly Task _ingestLoop;
    private readonly SpeechModels _speech;

    private PipelineRig(PipelineModels models, string root)
    {
        Root = root;
        Store = new MeetingSessionManager(new MeetingStoreOptions { RootDirectory = root }, TimeProvider.System);
        Ingest = new MeetingIngest(Store, 4096, TimeProvider.System);
        _speech = new SpeechModels(new ModelSet { Asr = new ModelSpec { Id = "whisper", Path = models.Whisper } }, InferenceSettings.Cpu(1), TranscriptionSettings.Unguarded);
        _speech.Load();
        Pipeline = new MeetingPipeline(Store, Ingest, _speech, () => null, Events, TimeProvider.System, NullLogger<MeetingPipeline>.Instance);
        _ingestLoop = Ingest.RunAsync();
    }

    public MeetingSessionManager Store { get; }

    public MeetingIngest Ingest { get; }

    public MeetingPipeline Pipeline { get; }

    public RecordedEvents Events { get; } = new();

    /// <summary>The store's folder; a second rig on it is the daemon after a restart.</summary>
    public string Root { get; }

    /// <summary>A rig on a new store, or on <paramref name="root"/> (a restart), with no summary model (extractive summaries).</summary>
    public static PipelineRig Start(PipelineModels models, string? root = null) => new(models, root ?? Path.Combine(models.Root, "store-" + Guid.NewGuid().ToString("N")));

    public async ValueTask DisposeAsync()
    {
        Ingest.Complete();
        await _ingestLoop;
        await Pipeline.DisposeAsync();
        Store.Dispose();
        _speech.Dispose();
    }
}
