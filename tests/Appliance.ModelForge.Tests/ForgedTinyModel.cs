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

[CollectionDefinition(Name)]
public sealed class ForgedTinyModelGroup : ICollectionFixture<ForgedTinyModel>
{
    public const string Name = "forged tiny model";
}
