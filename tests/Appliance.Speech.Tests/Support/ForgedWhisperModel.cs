using Appliance.ModelForge.Whisper;

namespace Appliance.Speech.Tests.Support;

/// <summary>The tiny Whisper preset forged once (generated tokenizer) for the collection; removed afterwards.</summary>
public sealed class ForgedWhisperModel : IDisposable
{
    public const long Seed = 7;

    public ForgedWhisperModel()
    {
        Directory = Path.Combine(Path.GetTempPath(), "whisper-tests-" + Guid.NewGuid().ToString("N"), "tiny");
        Forged = WhisperForge.Write(WhisperPreset.Tiny, Seed, Directory);
    }

    public string Directory { get; }

    public ForgedWhisper Forged { get; }

    public void Dispose() => System.IO.Directory.Delete(Path.GetDirectoryName(Directory)!, recursive: true);
}

[CollectionDefinition(Name)]
public sealed class ForgedWhisperGroup : ICollectionFixture<ForgedWhisperModel>
{
    public const string Name = "forged whisper model";
}

/// <summary>A progress sink that reports on the calling thread (Progress&lt;T&gt; would post to the pool).</summary>
internal sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
