using Appliance.Audio;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.Profiles;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Speech.WakeWord;
using Appliance.Speech.Whisper;

namespace Appliance.Ota;

/// <summary>
/// The smoke test of a model slot with the real runtimes, on the device and when a technician packages a release: the
/// model loads with the given execution-provider chain, and a language model given a golden prompt, or Whisper given
/// a reference clip, produces its first <see cref="MaxTokens"/> token ids greedily. The device compares them with those
/// recorded at packaging. Each call loads the model on its own and releases it before returning; calls may run one
/// at a time only, as each takes the memory of a model.
/// </summary>
public sealed class ModelSmokeTest(LlmServiceOptions languageModels, InferenceSettings speech, TimeProvider time) : ISmokeTest
{
    /// <summary>Token ids recorded and compared.</summary>
    public const int MaxTokens = 16;

    /// <inheritdoc />
    public async Task<string?> RunAsync(string path, ModelTarget target, CancellationToken cancellationToken)
    {
        var (tokens, problem) = await ObserveAsync(path, target.Feature, target.Smoke?.Prompt, target.Smoke?.Clip, cancellationToken).ConfigureAwait(false);
        if (problem is not null)
        {
            return problem;
        }

        if (target.Smoke is { TokenIds: { } expected } && !expected.SequenceEqual(tokens ?? []))
        {
            return $"token ids {string.Join(' ', tokens ?? [])}, recorded at packaging {string.Join(' ', expected)}";
        }

        return null;
    }

    /// <summary>
    /// Loads the model at <paramref name="path"/> for <paramref name="feature"/> and, with a prompt (language models)
    /// or a clip inside the folder (Whisper), decodes greedily.
    /// </summary>
    /// <returns>The token ids (null without a prompt or clip), or why the model failed.</returns>
    public async Task<(IReadOnlyList<int>? Tokens, string? Problem)> ObserveAsync(string path, string feature, string? prompt, string? clip, CancellationToken cancellationToken)
    {
        switch (feature)
        {
            case OtaFeatures.VoiceLlm or OtaFeatures.SummaryLlm:
                return await LanguageModelAsync(path, prompt, cancellationToken).ConfigureAwait(false);
            case OtaFeatures.Asr:
                return await WhisperAsync(path, clip, cancellationToken).ConfigureAwait(false);
            case OtaFeatures.Vad:
                var vad = SileroVadModel.Load(path, speech);
                vad.Value?.Dispose();
                return (null, vad.IsSuccess ? null : $"the VAD graph does not load: {vad.Error!.Message}");

            case OtaFeatures.WakeWord:
                var wake = WakeWordDetector.Open(path, null, speech);
                wake.Value?.Dispose();
                return (null, wake.IsSuccess ? null : $"the wake-word graphs do not load: {wake.Error!.Message}");
            default:
                return (null, $"no smoke test for feature \"{feature}\"");
        }
    }

    private async Task<(IReadOnlyList<int>?, string?)> LanguageModelAsync(string path, string? prompt, CancellationToken cancellationToken)
    {
        var service = new LlmService(languageModels with { MaxConcurrency = 1 }, time);
        await using (service.ConfigureAwait(false))
        {
            var status = await service.LoadModelAsync(new ModelSpec { Id = "smoke-test", Path = path }, cancellationToken).ConfigureAwait(false);
            if (status.State != LlmModelState.Loaded)
            {
                return (null, $"the model does not load: {status.Error?.Message ?? status.State.ToString()}");
            }

            if (prompt is null)
            {
                return (null, null);
            }

            var request = new LlmRequest { ModelId = "smoke-test", Messages = [new LlmMessage("user", prompt)], MaxTokens = MaxTokens, TopK = 1, Temperature = 0, Seed = 0, IncludeTokenIds = true };
            await foreach (var item in service.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
            {
                switch (item)
                {
                    case LlmCompleted completed:
                        return (completed.TokenIds, null);
                    case LlmFailed failed:
                        return (null, $"the golden prompt failed: {failed.Error.Message}");
                }
            }

            return (null, "the golden prompt ended without a result");
        }
    }

    private async Task<(IReadOnlyList<int>?, string?)> WhisperAsync(string folder, string? clip, CancellationToken cancellationToken)
    {
        var opened = WhisperTranscriber.Open(folder, speech);
        if (!opened.IsSuccess)
        {
            return (null, $"the Whisper model does not load: {opened.Error.Message}");
        }

        using var transcriber = opened.Value;
        if (clip is null)
        {
            return (null, null);
        }

        var read = AudioFile.ReadMono16k(Path.Combine(folder, clip));
        if (read.Audio is not { } audio)
        {
            return (null, $"the reference clip {clip} cannot be read: {read.Message}");
        }

        var result = await transcriber.TranscribeAsync(audio.Samples, null, cancellationToken).ConfigureAwait(false);
        return result.Error is { } error
            ? (null, $"the reference clip does not transcribe: {error.Message}")
            : ([.. result.Segments.SelectMany(s => s.Tokens).Take(MaxTokens)], null);
    }
}
