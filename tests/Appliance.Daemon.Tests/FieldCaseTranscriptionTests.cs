using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Speech;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// The container field cases (../shared/cases, found through APPLIANCE_SHARED_DIR or ../shared beside the repository)
/// sent to <c>asr.transcribe</c> as a user's app sends them, in base64, through the real daemon and broker. Each used
/// to be refused or cut short; the right value is the whole recording transcribed, with any header oddity as a
/// warning.
/// </summary>
[Trait("Category", "Shared")]
public sealed class FieldCaseTranscriptionTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    [Theory]
    [InlineData("wav-oddpad", "wav_list_oddpad.wav", 11.0, null)]
    [InlineData("wav-byterate", "wav_recordrtc_byterate.wav", 11.0, "byte rate")]
    [InlineData("wav-byterate", "wav_recordrtc76_mono_byterate.wav", 11.0, "byte rate")]
    [InlineData("ogg-chained", "ogg_chained.opus", 16.0, "chained")]
    [InlineData("ogg-chained", "ogg_chained_same_serial.opus", 16.0, "chained")]
    public async Task A_field_recording_is_transcribed_whole(string caseName, string file, double seconds, string? warning)
    {
        var shared = Environment.GetEnvironmentVariable("APPLIANCE_SHARED_DIR") is { Length: > 0 } variable
            ? variable
            : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared");
        var path = Path.GetFullPath(Path.Combine(shared, "cases", caseName, file));
        Assert.True(File.Exists(path), $"the field case {path} is missing (set APPLIANCE_SHARED_DIR)");
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}"]);
        await daemon.Service<SpeechModels>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
        await using var client = await daemon.ConnectAsync();

        var reply = await client.InvokeAsync(
            RpcMethods.AsrTranscribe,
            new AsrTranscribeParams { Audio = Convert.ToBase64String(await File.ReadAllBytesAsync(path)), Language = "en" },
            new RpcCallOptions { Timeout = TimeSpan.FromMinutes(2) });

        Assert.True(reply.Error is null, reply.Error?.Message);
        var result = reply.Value!;
        output.WriteLine($"{result.DurationSeconds} s, {result.Windows} window(s), warnings: {string.Join(" | ", result.Warnings ?? [])}");
        Assert.Equal(seconds, result.DurationSeconds!.Value, 3);
        Assert.True(result.Windows >= 1);
        Assert.NotEmpty(result.Segments!);
        if (warning is null)
        {
            Assert.Null(result.Warnings);
        }
        else
        {
            Assert.Contains(result.Warnings!, w => w.Contains(warning, StringComparison.Ordinal));
        }
    }
}
