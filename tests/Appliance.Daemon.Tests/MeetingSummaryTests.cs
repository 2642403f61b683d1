using System.Text.Json;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using Appliance.Meetings;

namespace Appliance.Daemon.Tests;

public sealed partial class MeetingTests
{
    [Fact]
    public async Task The_summary_model_writes_the_summary_with_chunks_mapped_ahead_and_an_invalid_answer_retried_under_the_schema()
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile(withSummaryLlm: true)}", $"--Meetings:Root={root}"]);
        await using var client = await daemon.ConnectAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        var session = "review-1";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var progress = new List<JsonElement>();
        var mostlyTranscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var progressTask = Task.Run(async () =>
        {
            await foreach (var m in client.ObserveAsync(Topics.MeetingProgress(daemon.DeviceId, session), timeout.Token))
            {
                var body = JsonDocument.Parse(m.Payload).RootElement;
                lock (progress)
                {
                    progress.Add(body);
                }

                if (body.TryGetProperty("transcribedSeconds", out var transcribed) && transcribed.GetDouble() >= 30)
                {
                    mostlyTranscribed.TrySetResult();
                }

                if (body.GetProperty("state").GetString() == "completed")
                {
                    return;
                }
            }
        });
        await using var summaries = client.ObserveAsync(Topics.MeetingSummary(daemon.DeviceId, session), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();

        var start = await log.ControlAsync(session, new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1, Language = "en", Participants = Participants });
        await log.WaitForFinalAsync(start, TimeSpan.FromSeconds(10));
        var frames = SpokenAudio.PcmFrames(Speech(40));
        for (var i = 0; i < frames.Count; i++)
        {
            if (i != 7)
            {
                await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, session, i, AudioCodecs.PcmS16LE, frames[i]));
            }
        }

        // The stop waits until 30 of the 40 s are transcribed: by then the passes that map complete chunks ahead have
        // been due, so the first chunk's notes are ready however slowly this machine runs (a pass still pending when
        // transcription ends is dropped, its chunks mapped at stop instead).
        await mostlyTranscribed.Task.WaitAsync(timeout.Token);
        var stop = await log.ControlAsync(session, new MeetingControl { Action = "stop", LastSequence = frames.Count - 1 });
        await log.WaitForFinalAsync(stop, TimeSpan.FromSeconds(10));
        Assert.True(await summaryArrived, "no summary arrived");
        output.WriteLine(System.Text.Encoding.UTF8.GetString(summaries.Current.Payload));

        Assert.Empty(MeetingSummarySchema.Validate(summaries.Current.Payload));
        var summary = JsonDocument.Parse(summaries.Current.Payload).RootElement;
        Assert.Equal("llm", summary.GetProperty("source").GetString());
        Assert.Equal("en", summary.GetProperty("language").GetString());
        Assert.Equal(7, Assert.Single(summary.GetProperty("gaps").EnumerateArray()).GetProperty("fromSeq").GetInt64());

        // The reduce is decoded under the summary schema: random weights answer with valid summary JSON at the first try.
        await progressTask;
        List<string> stages;
        lock (progress)
        {
            stages = [.. progress.Where(p => p.GetProperty("state").GetString() == "summarizing")
                .Select(p => p.GetProperty("stage").GetString()
                    + (p.TryGetProperty("constrained", out _) ? "+constrained" : "")
                    + (p.TryGetProperty("prepared", out var prepared) && prepared.GetBoolean() ? "+prepared" : ""))];
            Assert.Contains(progress, p => p.TryGetProperty("percentTranscribed", out var percent) && percent.GetDouble() == 100);
        }

        // 40 s of speech make several chunks: all but the last were mapped while the meeting went on. The last one is
        // mapped at stop, unless it fits the reduce beside their notes and goes to it as transcribed.
        output.WriteLine(string.Join(", ", stages));
        Assert.Equal("map+prepared", stages[0]);
        Assert.All(stages.TakeWhile(s => s.StartsWith("map", StringComparison.Ordinal)).SkipLast(1), s => Assert.Equal("map+prepared", s));
        // The chunking depends on how much transcript there was at each map ahead, so the notes may need a combine
        // round before they fit one prompt; then the reduce, under the schema, writes the summary.
        Assert.Equal(["reduce+constrained"], stages.SkipWhile(s => s.StartsWith("map", StringComparison.Ordinal)).SkipWhile(s => s == "combine"));
    }
}
