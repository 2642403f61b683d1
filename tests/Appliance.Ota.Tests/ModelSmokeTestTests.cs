using Appliance.Inference;
using Appliance.Llm;
using Appliance.ModelForge.Llm;
using Appliance.ModelForge.Whisper;
using Appliance.Tests.Common;

namespace Appliance.Ota.Tests;

/// <summary>The smoke test with real ONNX Runtime sessions on forged models: golden token ids recorded, compared, and a model that does not load.</summary>
public sealed class ModelSmokeTestTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("smoke-test-").FullName;
    private readonly ModelSmokeTest _smoke = new(new LlmServiceOptions(), InferenceSettings.Cpu(), TimeProvider.System);

    [Fact]
    public async Task A_language_model_gives_the_same_golden_tokens_every_time_and_other_tokens_or_a_broken_graph_fail()
    {
        var folder = Path.Combine(_work, "tiny");
        LlmForge.Write(LlmPreset.Tiny, 42, folder);

        var (recorded, problem) = await _smoke.ObserveAsync(folder, OtaFeatures.VoiceLlm, "Hello", null, CancellationToken.None);
        Assert.Null(problem);
        Assert.Equal(ModelSmokeTest.MaxTokens, recorded!.Count);
        var target = new ModelTarget { Feature = OtaFeatures.VoiceLlm, ModelId = "tiny", Release = 1, Smoke = new SmokeExpectation { Prompt = "Hello", TokenIds = recorded } };

        Assert.Null(await _smoke.RunAsync(folder, target, CancellationToken.None));

        var other = target with { Smoke = target.Smoke! with { TokenIds = [.. recorded.Select((t, i) => i == 3 ? t + 1 : t)] } };
        Assert.StartsWith($"token ids {string.Join(' ', recorded)}, recorded at packaging", await _smoke.RunAsync(folder, other, CancellationToken.None), StringComparison.Ordinal);

        var broken = DamagedCopies.TruncatedGraph(folder, Path.Combine(_work, "broken"));
        Assert.StartsWith("the model does not load", await _smoke.RunAsync(broken, target, CancellationToken.None), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Whisper_on_a_reference_clip_in_its_folder_gives_the_recorded_tokens()
    {
        var folder = Path.Combine(_work, "whisper");
        WhisperForge.Write(WhisperPreset.Tiny, 7, folder, endOfTextBias: 14.5f);
        ToolRunner.Require("espeak-ng", "espeak-ng");
        ToolRunner.Run("espeak-ng", ["-v", "en-us", "-w", Path.Combine(folder, "smoke.wav"), "--", "set the freezer to minus twenty"]);

        var (observed, problem) = await _smoke.ObserveAsync(folder, OtaFeatures.Asr, null, "smoke.wav", CancellationToken.None);
        Assert.Null(problem);
        var recorded = Assert.IsAssignableFrom<IReadOnlyList<int>>(observed);
        Assert.NotEmpty(recorded);
        var target = new ModelTarget { Feature = OtaFeatures.Asr, ModelId = "whisper-tiny", Release = 1, Smoke = new SmokeExpectation { Clip = "smoke.wav", TokenIds = recorded } };

        Assert.Null(await _smoke.RunAsync(folder, target, CancellationToken.None));
        var other = target with { Smoke = target.Smoke! with { TokenIds = [.. recorded, 50257] } };
        Assert.Contains("recorded at packaging", await _smoke.RunAsync(folder, other, CancellationToken.None), StringComparison.Ordinal);
        var missing = target with { Smoke = target.Smoke! with { Clip = "absent.wav" } };
        Assert.StartsWith("the reference clip absent.wav cannot be read", await _smoke.RunAsync(folder, missing, CancellationToken.None), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
