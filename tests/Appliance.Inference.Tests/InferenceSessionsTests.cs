using Appliance.ModelForge.Whisper;
using Appliance.Profiles;

namespace Appliance.Inference.Tests;

/// <summary>The one place ONNX Runtime sessions are made: the provider chain, its fallback, and failures as values.</summary>
public sealed class InferenceSessionsTests : IDisposable
{
    private static readonly ExecutionProviderSpec Cuda = new() { Name = "CUDAExecutionProvider" };
    private static readonly ExecutionProviderSpec Qnn = new() { Name = "QNNExecutionProvider" };
    private static readonly ExecutionProviderSpec Xnnpack = new() { Name = "XnnpackExecutionProvider" };
    private static readonly ExecutionProviderSpec Cpu = new() { Name = ExecutionProviderSelector.Cpu };

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "inference-tests-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void The_chain_is_tried_in_order_of_what_the_runtime_offers_and_ends_with_the_cpu()
    {
        Assert.Equal(["XnnpackExecutionProvider", "CPUExecutionProvider"], Names(ExecutionProviderSelector.Candidates([Qnn, Xnnpack, Cpu], ["XnnpackExecutionProvider", "CPUExecutionProvider"])));
        Assert.Equal(["CPUExecutionProvider"], Names(ExecutionProviderSelector.Candidates([], ["CPUExecutionProvider"])));
        Assert.Equal(["CUDAExecutionProvider", "CPUExecutionProvider"], Names(ExecutionProviderSelector.Candidates([Cuda], ["CUDAExecutionProvider", "CPUExecutionProvider"])));

        var choice = ExecutionProviderSelector.Choose([Qnn, Cuda], ["CPUExecutionProvider"]);
        Assert.Equal((ExecutionProviderSelector.Cpu, true), (choice.Chosen.Name, choice.IsFallback));
        Assert.Equal(["QNNExecutionProvider", "CUDAExecutionProvider"], choice.Skipped.Select(s => s.Name));
    }

    /// <summary>
    /// The daemon lists the library's providers through the C API's function table, without the environment that
    /// ONNX Runtime's managed binding makes first: both must give the same list, in the same order.
    /// </summary>
    [Fact]
    public void The_providers_listed_without_an_environment_are_those_the_managed_binding_lists()
    {
        var listed = OnnxRuntimeEnvironment.AvailableProviders();

        Assert.Contains(ExecutionProviderSelector.Cpu, listed);
        Assert.Equal(OnnxRuntimeEnvironment.Instance.GetAvailableProviders(), listed);
        Assert.Same(listed, ExecutionProviderSelector.InstalledProviders());
    }

    [Fact]
    public void A_provider_that_cannot_create_the_session_falls_back_to_the_cpu_and_says_why()
    {
        var graph = Graph();
        var settings = new InferenceSettings
        {
            ExecutionProviders = [Cuda, Cpu],
            IntraOpThreads = 1,
            // Pretend the runtime offers CUDA: appending it fails on this machine, and the CPU takes over.
            InstalledProviders = () => ["CUDAExecutionProvider", "CPUExecutionProvider"],
        };

        var opened = InferenceSessions.Open(graph, settings);

        Assert.True(opened.IsSuccess, opened.Message);
        using var session = opened.Session.Session;
        Assert.Equal(ExecutionProviderSelector.Cpu, opened.Session.ExecutionProvider);
        Assert.StartsWith("CUDAExecutionProvider: ", Assert.Single(opened.Session.Fallbacks), StringComparison.Ordinal);
        Assert.NotEmpty(session.InputMetadata);
    }

    [Fact]
    public void A_missing_or_broken_graph_is_a_value_not_an_exception()
    {
        var missing = InferenceSessions.Open(Path.Combine(_folder, "none.onnx"), InferenceSettings.Cpu(1));
        Assert.Equal(SessionOpenError.ModelMissing, missing.Error);
        Directory.CreateDirectory(_folder);
        var garbage = Path.Combine(_folder, "garbage.onnx");
        File.WriteAllBytes(garbage, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 37))]);

        var broken = InferenceSessions.Open(garbage, InferenceSettings.Cpu(1));

        Assert.Equal(SessionOpenError.ModelInvalid, broken.Error);
        Assert.Contains(garbage, broken.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Settings_carry_the_profile_and_the_spin_policy()
    {
        var profile = DeviceProfileLoader.Load(Path.Combine(AppContext.BaseDirectory, "device-profiles", "rpi5-fridge.json")).Profile!;
        var settings = InferenceSettings.FromProfile(profile);

        Assert.Equal(profile.ExecutionProviders, settings.ExecutionProviders);
        Assert.Equal((profile.Threads.IntraOp, profile.Threads.InterOp), (settings.IntraOpThreads, settings.InterOpThreads));
        Assert.All(settings.SessionConfigEntries().Values, v => Assert.Equal("0", v)); // never spin
        var always = (settings with { Spinning = SpinPolicy.Always }).SessionConfigEntries();
        Assert.Equal(("1", "1", "0"), (always["session.intra_op.allow_spinning"], always["session.inter_op.allow_spinning"], always["session.force_spinning_stop"]));
        Assert.All((settings with { Spinning = SpinPolicy.WithinRun }).SessionConfigEntries().Values, v => Assert.Equal("1", v));
    }

    [Fact]
    public void Model_paths_are_under_the_models_root_unless_absolute()
    {
        var paths = new ModelPaths("models");

        Assert.Equal(Path.GetFullPath(Path.Combine("models", "whisper", "base")), paths.Resolve(Path.Combine("whisper", "base")));
        Assert.Equal("/opt/models/vad.onnx", paths.Resolve("/opt/models/vad.onnx"));
        Assert.Null(paths.Resolve((ModelSpec?)null));
        Assert.Equal(Path.GetFullPath(Path.Combine("models", "r1")), paths.Resolve(new ModelSpec { Id = "r1", Path = "r1" })!.Path);
    }

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static string[] Names(IEnumerable<ExecutionProviderSpec> providers) => [.. providers.Select(p => p.Name)];

    private string Graph()
    {
        var whisper = Path.Combine(_folder, "whisper");
        WhisperForge.Write(WhisperPreset.Tiny, 7, whisper);
        return Path.Combine(whisper, "onnx", "encoder_model.onnx");
    }
}
