using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.MeetingPlayer;
using Appliance.Tests.Common;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Field case meet-language-tag: a meeting started with a locale tag as its language. Tags in any case are normalised
/// to the model's code before the meeting is stored, so the transcript is in that language; a language Whisper does
/// not know, or one outside the profile's languages, is refused at start with <c>invalid_params</c>.
/// </summary>
public sealed class MeetingLanguageTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    [Theory]
    [InlineData("en-US", "en")]
    [InlineData("EN", "en")]
    [InlineData("fa-IR", "fa")]
    [InlineData("zh-Hans", "zh")]
    public async Task A_locale_tag_is_normalised_and_the_meeting_is_transcribed_in_that_language(string tag, string code)
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();
        var session = $"lang-{code}";
        var streamer = new MeetingStreamer(client);
        await using var subscription = await streamer.SubscribeAsync(session);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var events = Task.Run(async () =>
        {
            var segments = new List<TranscriptSegment>();
            await foreach (var e in subscription.ReadAllAsync(timeout.Token))
            {
                switch (e)
                {
                    case TranscriptEvent t:
                        segments.Add(t.Segment);
                        break;
                    case SummaryEvent:
                        return segments;
                }
            }

            return segments;
        });

        var speech = SpokenAudio.Repeated(models.Root, "The quarterly meeting will review the budget.", 4);
        var streamed = await streamer.StreamAsync(session, speech, new MeetingStreamOptions { Codec = MeetingCodec.PcmS16LE, Speed = 0, Language = tag }, cancellationToken: timeout.Token);
        var transcript = await events;

        Assert.True(streamed.Succeeded, "start or stop was refused");
        var meeting = (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting;
        output.WriteLine($"{tag}: stored as {meeting.Parameters.LanguageHint}, {transcript.Count} segment(s)");
        Assert.Equal(code, meeting.Parameters.LanguageHint);
        Assert.NotEmpty(transcript);
        Assert.All(transcript, s => Assert.Equal(code, s.Language));
    }

    [Theory]
    [InlineData("xx", "not a language Whisper knows")]
    [InlineData("klingon-KL", "not a language Whisper knows")]
    [InlineData("de-DE", "not one of this device's languages (en, fa, ar, zh)")]
    public async Task An_unknown_language_is_refused_at_start(string tag, string reason)
    {
        await using var daemon = await StartAsync();
        await using var client = await daemon.ConnectAsync();

        var start = await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = "lang-bad", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1, Language = tag });

        Assert.Equal(RpcErrorCodes.InvalidParams, start.Error?.Code);
        Assert.Contains(reason, start.Error!.Message, StringComparison.Ordinal);
        Assert.Equal(RpcErrorCodes.UnknownSession, (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = "lang-bad" })).Error?.Code);
    }

    private async Task<RunningDaemon> StartAsync()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        await daemon.Service<Appliance.Speech.SpeechModels>().Ready.WaitAsync(TimeSpan.FromSeconds(30));
        return daemon;
    }
}
