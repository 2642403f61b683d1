using Appliance.ModelForge.Llm;

namespace Appliance.ModelForge.Tests;

/// <summary>The tiny preset forged once (with its GGUF) for all tests of the collection; removed afterwards.</summary>
public sealed class ForgedTinyModel : IDisposable
{
    public const long Seed = 42;

    public ForgedTinyModel()
    {
        Directory = Path.Combine(Path.GetTempPath(), "modelforge-tests-" + Guid.NewGuid().ToString("N"));
        Forged = LlmForge.Write(LlmPreset.Tiny, Seed, Directory, new LlmForgeOptions { WriteGguf = true });
    }

    public string Directory { get; }

    public ForgedLlm Forged { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}

/// <summary>
/// The tiny preset forged with other options and the seed of <see cref="ForgedTinyModel"/>, once for a test class, to
/// compare with it; removed afterwards.
/// </summary>
public abstract class ForgedTwin : IDisposable
{
    protected ForgedTwin(string name, LlmForgeOptions options)
    {
        Directory = Path.Combine(Path.GetTempPath(), $"modelforge-{name}-" + Guid.NewGuid().ToString("N"));
        LlmForge.Write(LlmPreset.Tiny, ForgedTinyModel.Seed, Directory, options);
    }

    public string Directory { get; }

    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ForgedTinyModelGroup : ICollectionFixture<ForgedTinyModel>
{
    public const string Name = "forged tiny model";
}
