using System.Diagnostics;
using System.Text.Json;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Field cases of the meeting timeline (../shared/cases/README.md), streamed as earbuds do through the real daemon and
/// broker: every frame's duration belongs on the timeline, whatever happened to the frame. JFK's 11 s clip
/// (../shared/audio/jfk.wav) is the speech; its first word starts about 0.3 s in.
/// </summary>
[Trait("Category", "Shared")]
public sealed class MeetingTimelineCaseTests(ForgedSpeechModels models, ITestOutputHelper output) : IClassFixture<ForgedSpeechModels>
{
    private const int FrameSamples = 320; // 20 ms at 16 kHz

    /// <summary>meet-gap-cap: frames 0-549, then 3000 frames (60 s) that never arrive, then the clip again as 3550-4099.</summary>
    [Fact]
    public async Task A_minute_of_lost_frames_is_a_minute_of_silence()
    {
        var pcm = Pcm16(JfkSamples());
        var frames = Enumerable.Range(0, 550).Select(i => (ReadOnlyMemory<byte>)pcm.AsMemory(i * FrameSamples * 2, FrameSamples * 2)).ToList();
        var sent = frames.Select((f, i) => ((long)i, f)).Concat(frames.Select((f, i) => ((long)(3550 + i), f))).ToList();

        var (transcript, meeting) = await MeetingAsync("gap-cap", AudioCodecs.PcmS16LE, 16000, sent);

        var second = transcript.Where(s => s.Start > 30).Min(s => s.Start);
        output.WriteLine($"first segment after the gap at {second:F2} s; meeting {meeting.GetProperty("transcribedSeconds").GetDouble():F2} s");
        Assert.Equal(71.3, second, 0.1);
        Assert.Equal(82.0, meeting.GetProperty("transcribedSeconds").GetDouble(), 0.05);
        var gap = Assert.Single(meeting.GetProperty("gaps").EnumerateArray());
        Assert.Equal((550, 3000), (gap.GetProperty("fromSeq").GetInt64(), gap.GetProperty("count").GetInt64()));
    }

    /// <summary>
    /// meet-seq-restart: frames 0-549, then the earbud reboots, sends the same start again and numbers its next 550
    /// frames from 0. They are kept and transcribed after the first ones, none taken for a duplicate, and the restart is
    /// counted.
    /// </summary>
    [Fact]
    public async Task A_device_that_numbers_from_zero_again_after_a_repeated_start_loses_nothing()
    {
        var pcm = Pcm16(JfkSamples());
        var frames = Enumerable.Range(0, 550).Select(i => (ReadOnlyMemory<byte>)pcm.AsMemory(i * FrameSamples * 2, FrameSamples * 2)).ToList();
        var sent = frames.Select((f, i) => ((long)i, f)).Concat(frames.Select((f, i) => ((long)i, f))).ToList();

        var (transcript, meeting) = await MeetingAsync("reboot", AudioCodecs.PcmS16LE, 16000, sent, repeatStartAt: 550);

        var counters = meeting.GetProperty("counters");
        Assert.Equal((1100, 0, 1), (counters.GetProperty("accepted").GetInt64(), counters.GetProperty("duplicates").GetInt64(), counters.GetProperty("sequenceRestarts").GetInt64()));
        Assert.Equal(22.0, meeting.GetProperty("transcribedSeconds").GetDouble(), 0.05);
        Assert.Equal(11.3, transcript.Where(s => s.Start > 10.5).Min(s => s.Start), 0.1);
        Assert.Empty(meeting.GetProperty("gaps").EnumerateArray());
    }

    /// <summary>pcm-odd-frames: the clip's PCM cut into 641-byte frames (half a sample over), a byte stream.</summary>
    [Fact]
    public async Task Pcm_frames_that_split_a_sample_are_one_byte_stream()
    {
        var pcm = Pcm16(JfkSamples());
        var sent = Enumerable.Range(0, (pcm.Length + 640) / 641)
            .Select(i => ((long)i, (ReadOnlyMemory<byte>)pcm.AsMemory(i * 641, Math.Min(641, pcm.Length - (i * 641)))))
            .ToList();

        var (transcript, meeting) = await MeetingAsync("odd-pcm", AudioCodecs.PcmS16LE, 16000, sent);

        Assert.Equal(550, sent.Count);
        Assert.NotEmpty(transcript);
        Assert.Equal(11.0, meeting.GetProperty("transcribedSeconds").GetDouble(), 0.05);
        Assert.Equal(550, meeting.GetProperty("counters").GetProperty("accepted").GetInt64());
    }

    /// <summary>
    /// opus-dtx: the clip's 551 Opus packets (48 kHz, 20 ms), 10 s of DTX, the packets again. libopus gives a one-byte
    /// <c>F8</c> 20 ms and <c>FB 03</c> (three empty frames) 60 ms; the second copy starts at 21.4 s either way.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0xF8 }, 500)]
    [InlineData(new byte[] { 0xFB, 0x03 }, 167)]
    public async Task Dtx_packets_keep_their_duration_on_the_timeline(byte[] dtx, int count)
    {
        var packets = OggPackets(File.ReadAllBytes(SharedFile("cases", "opus-dtx", "jfk20.opus"))).Skip(2).ToList();
        var stream = packets.Concat(Enumerable.Repeat(dtx, count)).Concat(packets).Select((p, i) => ((long)i, (ReadOnlyMemory<byte>)p)).ToList();

        var (transcript, meeting) = await MeetingAsync($"dtx-{count}", AudioCodecs.Opus, 48000, stream);

        Assert.Equal(551, packets.Count);
        var second = transcript.Where(s => s.Start > 15).Min(s => s.Start);
        output.WriteLine($"first segment after the DTX at {second:F2} s");
        Assert.Equal(21.4, second, 0.1);
        Assert.Equal(stream.Count, meeting.GetProperty("counters").GetProperty("accepted").GetInt64());
    }

    /// <summary>
    /// opus-hybrid-16k: the clip encoded at 48 and 32 kb/s (mostly Hybrid packets, SILK with CELT) in a meeting declared
    /// at 16 or 24 kHz. All five of its utterances are found, as at 48 kHz; they used to decode to near silence.
    /// </summary>
    [Theory]
    [InlineData("jfk_b48.opus", 16000)]
    [InlineData("jfk_b32.opus", 16000)]
    [InlineData("jfk_b48.opus", 24000)]
    [InlineData("jfk_b48.opus", 48000)]
    public async Task Hybrid_opus_is_heard_at_every_declared_rate(string file, int declaredRate)
    {
        var packets = OggPackets(File.ReadAllBytes(SharedFile("cases", "opus-hybrid-16k", file))).Skip(2).ToList();

        var (transcript, _) = await MeetingAsync($"hybrid-{declaredRate}", AudioCodecs.Opus, declaredRate, packets.Select((p, i) => ((long)i, (ReadOnlyMemory<byte>)p)).ToList());

        Assert.Equal(5, transcript.Count);
    }

    /// <summary>Streams the frames (4x real time) with the given sequence numbers, stops, and returns the transcript and meetings.get's meeting.</summary>
    private async Task<(List<TranscriptSegment> Transcript, JsonElement Meeting)> MeetingAsync(string session, string codec, int sampleRate, List<(long Seq, ReadOnlyMemory<byte> Payload)> frames, int? repeatStartAt = null)
    {
        var root = Path.Combine(models.Root, "meetings-" + Guid.NewGuid().ToString("N"));
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Profile={models.Profile()}", $"--Meetings:Root={root}"]);
        await using var client = await daemon.ConnectAsync();
        await using var log = await ReplyLog.ConnectAsync(daemon);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var transcript = new List<TranscriptSegment>();
        var collect = Task.Run(async () =>
        {
            await foreach (var m in client.ObserveAsync(Topics.MeetingTranscript(daemon.DeviceId, session), timeout.Token))
            {
                lock (transcript)
                {
                    transcript.Add(ContractJson.Deserialize<TranscriptSegment>(m.Payload)!);
                }
            }
        });
        await using var summaries = client.ObserveAsync(Topics.MeetingSummary(daemon.DeviceId, session), timeout.Token).GetAsyncEnumerator(timeout.Token);
        var summaryArrived = summaries.MoveNextAsync();

        var command = new MeetingControl { Action = "start", Codec = codec, SampleRate = sampleRate, Channels = 1, Language = "en" };
        var start = await log.ControlAsync(session, command);
        await log.WaitForFinalAsync(start, TimeSpan.FromSeconds(10));
        Assert.Null(log.Final(start).Error);
        var pace = Stopwatch.StartNew();
        foreach (var (n, (seq, payload)) in frames.Select((f, n) => (n, f)))
        {
            if (n == repeatStartAt)
            {
                // The device rebooted: once every frame so far is in, it sends the same start again.
                await WaitAcceptedAsync(client, session, n);
                var again = await log.ControlAsync(session, command);
                await log.WaitForFinalAsync(again, TimeSpan.FromSeconds(10));
                Assert.Null(log.Final(again).Error);
            }

            var due = TimeSpan.FromMilliseconds(5 * n) - pace.Elapsed;
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due);
            }

            await client.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, session, seq, codec, payload));
        }

        var stop = await log.ControlAsync(session, new MeetingControl { Action = "stop", LastSequence = frames[^1].Seq });
        await log.WaitForFinalAsync(stop, TimeSpan.FromSeconds(10));
        Assert.True(await summaryArrived, "no summary arrived");
        var meeting = (await client.CallAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Result!.Value.GetProperty("meeting").Clone();
        await timeout.CancelAsync();
        await collect;
        lock (transcript)
        {
            output.WriteLine(string.Join(", ", transcript.Select(s => $"{s.Start:F2}-{s.End:F2}")));
            return ([.. transcript], meeting);
        }
    }

    private static async Task WaitAcceptedAsync(ApplianceClient client, string session, long count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while ((await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session }, cancellationToken: timeout.Token)).Value?.Meeting.Counters.Accepted < count)
        {
            await Task.Delay(50, timeout.Token);
        }
    }

    private static float[] JfkSamples()
    {
        var read = AudioFile.ReadMono16k(SharedFile("audio", "jfk.wav"));
        Assert.True(read.Succeeded, read.Message);
        Assert.Equal(176000, read.Audio!.Length);
        return read.Audio.Samples;
    }

    private static byte[] Pcm16(float[] samples)
    {
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), (short)Math.Clamp(Math.Round(samples[i] * 32768), short.MinValue, short.MaxValue));
        }

        return bytes;
    }

    /// <summary>The packets of a single-stream Ogg file (RFC 3533 pages, lacing joined), headers included.</summary>
    private static IEnumerable<byte[]> OggPackets(byte[] file)
    {
        var packet = new List<byte>();
        for (var at = 0; at + 27 <= file.Length;)
        {
            Assert.True(file.AsSpan(at, 4).SequenceEqual("OggS"u8), $"no Ogg page at byte {at}");
            var segments = file[at + 26];
            var body = at + 27 + segments;
            foreach (var lace in file.AsSpan(at + 27, segments).ToArray())
            {
                packet.AddRange(file.AsSpan(body, lace).ToArray());
                body += lace;
                if (lace < 255)
                {
                    yield return [.. packet];
                    packet.Clear();
                }
            }

            at = body;
        }
    }

    private static string SharedFile(params string[] parts)
    {
        var shared = Environment.GetEnvironmentVariable("APPLIANCE_SHARED_DIR") is { Length: > 0 } variable
            ? variable
            : Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "..", "shared");
        var path = Path.GetFullPath(Path.Combine([shared, .. parts]));
        Assert.True(File.Exists(path), $"{path} is missing (set APPLIANCE_SHARED_DIR)");
        return path;
    }
}
