using Appliance.Profiles;
using Appliance.Inference;
using Appliance.Tests.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Appliance.Speech.Tests.Support;
using Appliance.Speech.Whisper;
using Xunit.Abstractions;

namespace Appliance.Speech.Tests;

/// <summary>
/// The same audio through transformers.js (reference/whisper_generate.mjs: WhisperFeatureExtractor and
/// WhisperForConditionalGeneration.generate, greedy, local files only) and through <see cref="WhisperTranscriber"/> on
/// the same forged folder must give the same token ids. Fails, saying how to install it, when the reference is missing.
/// </summary>
[Collection(ForgedWhisperGroup.Name)]
public sealed class TransformersJsParityTests(ForgedWhisperModel model, ITestOutputHelper output)
{
    private const int NewTokens = 24;

    [Theory]
    [InlineData("en", 5.0)]
    [InlineData("fa", 12.5)]
    public async Task TransformersJsGreedyTokensEqualOurs(string language, double seconds)
    {
        TestPaths.NodeModule(Path.Combine("@huggingface", "transformers"));
        var audio = WhisperTranscriberTests.Tone(seconds);
        var input = Path.Combine(Path.GetTempPath(), $"whisper-parity-{Guid.NewGuid():N}.f32");
        try
        {
            File.WriteAllBytes(input, MemoryMarshal.AsBytes(audio.AsSpan()).ToArray());
            var stdout = ToolRunner.Run(
                "node",
                [Path.Combine(TestPaths.ReferenceDirectory, "whisper_generate.mjs"), model.Directory, input, language, NewTokens.ToString(CultureInfo.InvariantCulture)],
                TestPaths.ReferenceDirectory);
            using var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]);
            var reference = json.RootElement.GetProperty("sequence").EnumerateArray().Select(e => e.GetInt32()).ToList();

            var opened = WhisperTranscriber.Open(model.Directory, InferenceSettings.Cpu(1));
            Assert.True(opened.IsSuccess, opened.Error?.Message);
            using var transcriber = opened.Value;
            var result = await transcriber.TranscribeAsync(audio, new TranscriptionOptions { Settings = TranscriptionSettings.Unguarded, Language = language, MaxNewTokens = NewTokens });
            Assert.Null(result.Error);
            var tokenizer = transcriber.Tokenizer;
            List<int> ours = [tokenizer.StartOfTranscript, tokenizer.LanguageIds[language], tokenizer.Transcribe, tokenizer.NoTimestamps, .. Assert.Single(result.Segments).Tokens];
            if (ours.Count - 4 < NewTokens)
            {
                ours.Add(tokenizer.EndOfText);
            }

            output.WriteLine($"transformers.js: [{string.Join(", ", reference)}]");
            output.WriteLine($"ours:            [{string.Join(", ", ours)}]");
            Assert.Equal(reference, ours);
        }
        finally
        {
            File.Delete(input);
        }
    }
}
