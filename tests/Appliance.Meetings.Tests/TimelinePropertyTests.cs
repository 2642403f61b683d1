using Appliance.Audio;
using Concentus;
using Concentus.Enums;

namespace Appliance.Meetings.Tests;

/// <summary>
/// The meeting timeline as a property: a seeded random meeting of tone bursts (1.2-2.5 s, heard by the energy VAD) and
/// silences (1-2.5 s, one of 4.5 s) is sent as earbuds send it over a bad radio link, with isolated lost frames,
/// duplicates, neighbours swapped, 150 frames lost in a row, Opus DTX packets or PCM frames that split samples (a
/// fixed odd size: a lost frame of a byte stream is only known by its number, so it is taken to be as long as its neighbour), a
/// sequence that starts anywhere, and a device reboot mid-meeting that numbers from 0 again after a repeated start.
/// Every burst must be transcribed from within 0.1 s of where it truly starts, no segment may start outside a burst,
/// and the counters must add up: accepted plus the gaps is the true frame count, duplicates are the ones sent twice,
/// and the one frame sent after the long loss's far side is late (arrived, refused, and a gap all the same).
/// </summary>
public sealed class TimelinePropertyTests(PipelineModels models) : IClassFixture<PipelineModels>
{
    private const int Rate = 16000;
    private const int FrameSamples = Rate / 50;
    private const double Tolerance = 0.1;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    public static TheoryData<string, int> Meetings => new()
    {
        { AudioCodecs.PcmS16LE, 1 },
        { AudioCodecs.PcmS16LE, 2 },
        { AudioCodecs.PcmS16LE, 3 },
        { AudioCodecs.Opus, 4 },
        { AudioCodecs.Opus, 5 },
        { AudioCodecs.Opus, 6 },
    };

    [Theory]
    [MemberData(nameof(Meetings))]
    public async Task Every_burst_keeps_its_place_on_the_timeline_and_the_counters_add_up(string codec, int seed)
    {
        var meeting = RandomMeeting.Create(seed, codec);
        await using var rig = PipelineRig.Start(models);
        var id = $"prop-{seed}";
        Assert.Equal(MeetingResult.Ok, await rig.Pipeline.StartAsync(id, new MeetingParameters(codec, Rate, 1, "en", []), default));

        foreach (var frame in meeting.BeforeReboot)
        {
            Assert.True(rig.Ingest.TryEnqueue(id, frame));
        }

        // The device reboots once everything it sent has landed (its last frames are never lost: nothing could tell).
        await ProcessedAsync(rig, id, meeting.BeforeReboot.Count);
        Assert.Equal(MeetingResult.AlreadyDone, await rig.Pipeline.StartAsync(id, new MeetingParameters(codec, Rate, 1, "en", []), default));
        foreach (var frame in meeting.AfterReboot)
        {
            Assert.True(rig.Ingest.TryEnqueue(id, frame));
        }

        var stopped = await rig.Pipeline.StopAsync(id, meeting.AfterReboot.Max(f => f.Sequence), default);
        Assert.Equal(MeetingResult.Ok, stopped.Result);
        var ended = await Task.WhenAny(rig.Events.Summary(id), rig.Events.Failure(id)).WaitAsync(Limit);
        Assert.True(ended == rig.Events.Summary(id), $"the meeting failed: {(ended as Task<MeetingProgress>)?.Result.Error?.Message}");

        var info = rig.Store.Get(id)!;
        var transcript = rig.Store.ReadTranscript(id)!;
        var lost = info.Gaps.Sum(g => g.Count);
        Assert.Equal((meeting.TrueFrames - meeting.Lost - meeting.Late, meeting.Duplicates, (long)meeting.Late, 1L), (info.Counters.Accepted, info.Counters.Duplicates, info.Counters.Late, info.Counters.SequenceRestarts));
        Assert.Equal(meeting.Lost + meeting.Late, lost);
        Assert.Equal(meeting.TrueFrames, info.Counters.Accepted + lost);
        Assert.Equal(meeting.Seconds, info.TranscribedSeconds, 0.05);

        var utterances = transcript.GroupBy(s => s.SegmentId.Split('-')[0]).Select(g => (Start: g.Min(s => s.Start), Segments: g.ToList())).ToList();
        foreach (var (start, end) in meeting.Bursts)
        {
            Assert.True(
                utterances.Any(u => Math.Abs(u.Start - start) <= Tolerance),
                $"the burst at {start:F2}-{end:F2} s has no segment starting within {Tolerance} s; utterances start at {string.Join(", ", utterances.Select(u => u.Start.ToString("F2")))}");
        }

        Assert.All(transcript, s => Assert.True(
            meeting.Bursts.Any(b => s.Start >= b.Start - Tolerance && s.Start <= b.End + Tolerance),
            $"segment {s.SegmentId} starts at {s.Start:F2} s, in no burst ({string.Join(", ", meeting.Bursts.Select(b => $"{b.Start:F2}-{b.End:F2}"))})"));
    }

    /// <summary>Completes once the session has taken <paramref name="frames"/> frames (accepted, duplicate or late).</summary>
    private static async Task ProcessedAsync(PipelineRig rig, string id, int frames)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check(string session)
        {
            if (session == id && rig.Store.Get(id)!.Counters is { } c && c.Accepted + c.Duplicates + c.Late >= frames)
            {
                done.TrySetResult();
            }
        }

        rig.Ingest.SessionAdvanced += Check;
        try
        {
            Check(id);
            await done.Task.WaitAsync(Limit);
        }
        finally
        {
            rig.Ingest.SessionAdvanced -= Check;
        }
    }

    /// <summary>One random meeting: the audio's truth, and the frames as the device sends them.</summary>
    private sealed class RandomMeeting
    {
        public List<(double Start, double End)> Bursts { get; } = [];

        public List<AudioFrame> BeforeReboot { get; } = [];

        public List<AudioFrame> AfterReboot { get; } = [];

        public int TrueFrames { get; private set; }

        public int Lost { get; private set; }

        public int Duplicates { get; private set; }

        /// <summary>Frames sent so late that their place was given up as lost: arrived, refused, and a gap all the same.</summary>
        public int Late { get; private set; }

        /// <summary>The meeting's true length.</summary>
        public double Seconds { get; private set; }

        public static RandomMeeting Create(int seed, string codec)
        {
            var random = new Random(seed);
            var meeting = new RandomMeeting();
            var samples = new List<float>();
            var protectedFrames = new HashSet<int>();
            void Silence(double seconds)
            {
                for (var i = (int)(seconds * Rate); i > 0; i--)
                {
                    samples.Add((float)((random.NextDouble() - 0.5) * 0.002));
                }
            }

            Silence(1.0);
            var longSilenceAfter = random.Next(2, 5);
            var rebootAfter = longSilenceAfter + random.Next(2, 4);
            (int From, int To) longGap = default;
            var rebootFrame = 0;
            for (var burst = 0; burst < 10; burst++)
            {
                var start = samples.Count;
                var length = (int)((1.2 + (random.NextDouble() * 1.3)) * Rate);
                var frequency = 250 + (random.NextDouble() * 600);
                var amplitude = 0.2 + (random.NextDouble() * 0.3);
                for (var i = 0; i < length; i++)
                {
                    var fade = Math.Min(1.0, Math.Min(i, length - i) / (0.01 * Rate));
                    samples.Add((float)(amplitude * fade * (Math.Sin(2 * Math.PI * frequency * i / Rate) + (0.3 * Math.Sin(6 * Math.PI * frequency * i / Rate)))));
                }

                meeting.Bursts.Add((start / (double)Rate, samples.Count / (double)Rate));
                protectedFrames.UnionWith(Enumerable.Range((start / FrameSamples) - 2, 5)); // a lost first frame would move the start by 20 ms; keep the bound tight
                var silenceStart = samples.Count / FrameSamples;
                Silence(burst == longSilenceAfter ? 4.5 : 1.0 + (random.NextDouble() * 1.5));
                if (burst == longSilenceAfter)
                {
                    longGap = (silenceStart + 40, silenceStart + 190);
                }
                else if (burst == rebootAfter)
                {
                    rebootFrame = silenceStart + 25;
                    protectedFrames.UnionWith(Enumerable.Range(rebootFrame - 8, 16));
                }
            }

            var payloads = codec == AudioCodecs.Opus ? OpusPackets(samples, meeting.Bursts) : PcmByteStream(samples, random);
            meeting.TrueFrames = payloads.Count;
            meeting.Seconds = codec == AudioCodecs.Opus ? payloads.Count * 0.02 : samples.Count / (double)Rate;
            meeting.Send(payloads, random, protectedFrames, longGap, rebootFrame, codec, baseSequence: random.Next(1, 60000));
            return meeting;
        }

        private void Send(List<byte[]> payloads, Random random, HashSet<int> protectedFrames, (int From, int To) longGap, int rebootFrame, string codec, long baseSequence)
        {
            var order = new List<int>();
            for (var i = 0; i < payloads.Count; i++)
            {
                var free = i >= 5 && !protectedFrames.Contains(i) && (i < longGap.From - 3 || i > longGap.To + 3);
                if ((i >= longGap.From && i < longGap.To) || (free && random.NextDouble() < 0.02 && !protectedFrames.Contains(i - 1)))
                {
                    Lost++;
                    protectedFrames.Add(i); // isolated: its neighbours stay
                    continue;
                }

                order.Add(i);
                if (free && random.NextDouble() < 0.02 && order.Count > 3)
                {
                    order.Insert(order.Count - 3, i); // a copy, sent again among the three frames before it
                    Duplicates++;
                }
            }

            // The frame before the long loss comes after the frame past it: a whole window late, it is refused as late.
            var before = order.IndexOf(longGap.From - 1);
            var after = order.IndexOf(longGap.To);
            (order[before], order[after]) = (order[after], order[before]);
            Late = 1;
            protectedFrames.UnionWith([longGap.From - 1, longGap.To]);

            for (var k = 1; k < order.Count; k++)
            {
                if (!protectedFrames.Contains(order[k]) && !protectedFrames.Contains(order[k - 1]) && random.NextDouble() < 0.03)
                {
                    (order[k], order[k - 1]) = (order[k - 1], order[k]);
                }
            }

            foreach (var i in order)
            {
                var (list, sequence) = i < rebootFrame ? (BeforeReboot, baseSequence + i) : (AfterReboot, (long)(i - rebootFrame));
                list.Add(new AudioFrame(sequence, codec, 0, payloads[i]));
            }
        }

        /// <summary>
        /// The PCM as a byte stream cut into frames of 641 or 639 bytes (half a sample over or under 20 ms, as the seed
        /// picks), the way a sender with a fixed transfer size cuts it; the last frame is what is left.
        /// </summary>
        private static List<byte[]> PcmByteStream(List<float> samples, Random random)
        {
            var bytes = new byte[samples.Count * 2];
            for (var i = 0; i < samples.Count; i++)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), (short)Math.Clamp(samples[i] * 32767, -32768, 32767));
            }

            var size = random.Next(2) == 0 ? 641 : 639;
            return [.. bytes.Chunk(size)];
        }

        /// <summary>20 ms Opus packets (VoIP, 24 kb/s); inside each silence, after its first 60 ms, DTX packets: a bare TOC byte, or a code-3 packet of zero length frames.</summary>
        private static List<byte[]> OpusPackets(List<float> samples, List<(double Start, double End)> bursts)
        {
            using var encoder = OpusCodecFactory.CreateEncoder(Rate, 1, OpusApplication.OPUS_APPLICATION_VOIP);
            encoder.Bitrate = 24000;
            var output = new byte[1500];
            var packets = new List<byte[]>();
            var all = samples.ToArray();
            for (var start = 0; start + FrameSamples <= all.Length; start += FrameSamples)
            {
                var length = encoder.Encode(all.AsSpan(start, FrameSamples), FrameSamples, output, output.Length);
                var time = start / (double)Rate;
                var quiet = !bursts.Any(b => time + 0.02 > b.Start - 0.04 && time < b.End + 0.06);
                packets.Add(!quiet ? output[..length] : packets.Count % 2 == 0 ? [(byte)(output[0] & 0xFC)] : [(byte)(output[0] | 0x03), 0x01]);
            }

            return packets;
        }
    }
}
