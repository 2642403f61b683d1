using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Fleet;

/// <summary>What the fleet figure runs.</summary>
/// <param name="HubCounts">Fleet sizes, in order (for example 1, 2, 3).</param>
/// <param name="Streams">Meeting streams placed across the fleet for each size.</param>
/// <param name="Seconds">Audio each stream sends, in real time.</param>
/// <param name="Requests">Stateless requests (<c>asr.transcribe</c>) sent on the fleet topic for each size.</param>
/// <param name="Concurrency">Requests in flight at once.</param>
/// <param name="ClipSeconds">Audio in each request, in seconds.</param>
/// <param name="WhisperFolder">The forged Whisper every hub serves <c>asr.transcribe</c> with.</param>
/// <param name="VadModel">Silero VAD graph, or null for the daemon's energy detector.</param>
/// <param name="WorkDirectory">Where the profile, the broker's configuration and the hubs' working directories go.</param>
internal sealed record FleetSettings(IReadOnlyList<int> HubCounts, int Streams, int Seconds, int Requests, int Concurrency, double ClipSeconds, string WhisperFolder, string? VadModel, string WorkDirectory);

/// <summary>One fleet size's figures.</summary>
/// <param name="Hubs">Hubs in the group, each its own daemon process on this machine.</param>
/// <param name="RequestsServed">Requests answered with a result.</param>
/// <param name="RequestsFailed">Requests answered with an error or not in time; the first reason in <see cref="Failure"/>.</param>
/// <param name="RequestsElapsed">Wall time from the first request to the last answer.</param>
/// <param name="RequestsPerHub">Requests each hub served (its <c>servedBy</c>).</param>
/// <param name="AudioSecondsPerRequest">Audio in each request.</param>
/// <param name="StreamsPlaced">Streams each hub took (the reply's <c>servedBy</c>).</param>
/// <param name="StreamsRefused">Starts no hub took (every one asked answered busy).</param>
/// <param name="FramesSent">Frames published by the placed streams.</param>
/// <param name="FramesAccepted">Frames the hubs journaled (<c>meetings.get</c>).</param>
/// <param name="StreamElapsed">Wall time of the streaming.</param>
/// <param name="HubsCpuPercent">All hubs' CPU over the streaming, percent of one core.</param>
/// <param name="BrokerCpuPercent">Mosquitto's CPU over the streaming, percent of one core.</param>
/// <param name="SendLagP99">99th percentile of how late a frame went out against its schedule (the client's pacing).</param>
/// <param name="Failure">What went wrong, or null.</param>
internal sealed record FleetStep(
    int Hubs,
    int RequestsServed,
    int RequestsFailed,
    TimeSpan RequestsElapsed,
    IReadOnlyDictionary<string, int> RequestsPerHub,
    double AudioSecondsPerRequest,
    IReadOnlyDictionary<string, int> StreamsPlaced,
    int StreamsRefused,
    long FramesSent,
    long FramesAccepted,
    TimeSpan StreamElapsed,
    double HubsCpuPercent,
    double BrokerCpuPercent,
    TimeSpan SendLagP99,
    string? Failure)
{
    public double RequestsPerSecond => RequestsElapsed > TimeSpan.Zero ? RequestsServed / RequestsElapsed.TotalSeconds : 0;

    public long FramesLost => FramesSent - FramesAccepted;
}

/// <summary>The fleet figure: each size's step, and how it was run.</summary>
internal sealed record FleetReport(IReadOnlyList<FleetStep> Steps, FleetSettings Settings, string Broker, string Vad, IReadOnlyList<string> DaemonProblems);

/// <summary>
/// The fleet figure: for 1, 2 and 3 hubs (daemon processes in one fleet group on one Mosquitto, all on this machine),
/// the stateless requests per second the group serves on its fleet topic (<c>asr.transcribe</c> on a forged Whisper)
/// and the meeting streams placed across it by <see cref="ApplianceClient.StartMeetingInFleetAsync"/>, streamed in
/// real time, with every frame accounted for. The sizes run one after another on the same broker.
/// </summary>
internal static class FleetBenchmark
{
    private const string Group = "bench";
    private const int ConnectParallelism = 16;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(30);

    public static async Task<FleetReport> RunAsync(FleetSettings settings, MeetingAudio audio, Action<string> progress, CancellationToken cancellationToken)
    {
        var profile = BenchProfiles.FleetHub(settings.WhisperFolder, settings.VadModel);
        var profilePath = BenchProfiles.Write(profile, settings.WorkDirectory, "fleet-hub-profile");
        await using var broker = await BenchMosquitto.StartAsync(settings.WorkDirectory).ConfigureAwait(false);
        progress($"fleet: Mosquitto {broker.Version} on 127.0.0.1:{broker.Port}");
        var clip = TranscribeRequest(audio, settings.ClipSeconds);
        var frames = audio.OpusFrames();
        var steps = new List<FleetStep>();
        var problems = new List<string>();
        foreach (var count in settings.HubCounts)
        {
            var hubs = new List<BenchDaemon>();
            try
            {
                progress($"fleet: starting {count} hub(s)");
                for (var i = 0; i < count; i++)
                {
                    hubs.Add(await BenchDaemon.StartAsync(profilePath, $"hub-{i}", Path.Combine(settings.WorkDirectory, $"fleet-{count}-hub-{i}"), TimeSpan.FromSeconds(60), cancellationToken, broker.Port, [$"--Fleet:Group={Group}"]).ConfigureAwait(false));
                }

                steps.Add(await MeasureAsync(settings, broker, hubs, clip, frames, progress, cancellationToken).ConfigureAwait(false));
            }
            catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                steps.Add(Failed(count, ex.Message));
            }
            finally
            {
                problems.AddRange(hubs.SelectMany(h => h.Problems.Select(p => $"{h.DeviceId}: {p}")));
                foreach (var hub in hubs)
                {
                    await hub.DisposeAsync().ConfigureAwait(false);
                }
            }
        }

        var vad = settings.VadModel is null ? "energy detector (no Silero model given)" : $"Silero ({Path.GetFileName(settings.VadModel)})";
        return new FleetReport(steps, settings, $"Mosquitto {broker.Version}", vad, problems);
    }

    private static FleetStep Failed(int hubs, string failure) =>
        new(hubs, 0, 0, TimeSpan.Zero, new Dictionary<string, int>(), 0, new Dictionary<string, int>(), 0, 0, 0, TimeSpan.Zero, double.NaN, double.NaN, TimeSpan.Zero, failure);

    private static async Task<FleetStep> MeasureAsync(FleetSettings settings, BenchMosquitto broker, List<BenchDaemon> hubs, byte[] clip, IReadOnlyList<byte[]> frames, Action<string> progress, CancellationToken cancellationToken)
    {
        await using var fleet = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, FleetGroup = Group }, cancellationToken).ConfigureAwait(false);

        // One unmeasured request per hub first (Mosquitto rotates, so each hub gets one): model warm-up, first calls.
        progress($"fleet: {hubs.Count} hub(s): warm-up, {hubs.Count} request(s)");
        foreach (var _ in hubs)
        {
            await fleet.CallInFleetAsync(RpcMethods.AsrTranscribe.Name, clip, attempts: 1, new RpcCallOptions { Timeout = RequestTimeout }, cancellationToken).ConfigureAwait(false);
        }

        progress(string.Create(CultureInfo.InvariantCulture, $"fleet: {hubs.Count} hub(s): {settings.Requests} asr.transcribe requests, {settings.Concurrency} in flight"));
        var (served, failed, requestsElapsed, perHub, requestFailure) = await RequestsAsync(fleet, clip, settings.Requests, settings.Concurrency, cancellationToken).ConfigureAwait(false);

        progress(string.Create(CultureInfo.InvariantCulture, $"fleet: {hubs.Count} hub(s): {settings.Streams} meeting streams for {settings.Seconds} s"));
        var streams = await StreamsAsync(settings, broker, hubs, frames, cancellationToken).ConfigureAwait(false);
        return new FleetStep(
            hubs.Count,
            served,
            failed,
            requestsElapsed,
            perHub,
            settings.ClipSeconds,
            streams.Placed,
            streams.Refused,
            streams.Sent,
            streams.Accepted,
            streams.Elapsed,
            streams.HubsCpu,
            streams.BrokerCpu,
            streams.LagP99,
            requestFailure ?? streams.Failure);
    }

    private static async Task<(int Served, int Failed, TimeSpan Elapsed, IReadOnlyDictionary<string, int> PerHub, string? Failure)> RequestsAsync(ApplianceClient fleet, byte[] clip, int requests, int concurrency, CancellationToken cancellationToken)
    {
        var perHub = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var failures = new ConcurrentQueue<string>();
        var watch = Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, requests), new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (_, token) =>
        {
            try
            {
                var reply = await fleet.CallInFleetAsync(RpcMethods.AsrTranscribe.Name, clip, attempts: 1, new RpcCallOptions { Timeout = RequestTimeout }, token).ConfigureAwait(false);
                if (reply.Error is { } error)
                {
                    failures.Enqueue($"{error.Code}: {error.Message}");
                }
                else
                {
                    perHub.AddOrUpdate(reply.ServedBy ?? "?", 1, (_, n) => n + 1);
                }
            }
            catch (TimeoutException ex)
            {
                failures.Enqueue(ex.Message);
            }
        }).ConfigureAwait(false);
        var elapsed = watch.Elapsed;
        return (perHub.Values.Sum(), failures.Count, elapsed, new SortedDictionary<string, int>(perHub, StringComparer.Ordinal), failures.TryPeek(out var first) ? $"requests: {first}" : null);
    }

    private sealed record StreamFigures(IReadOnlyDictionary<string, int> Placed, int Refused, long Sent, long Accepted, TimeSpan Elapsed, double HubsCpu, double BrokerCpu, TimeSpan LagP99, string? Failure);

    private static async Task<StreamFigures> StreamsAsync(FleetSettings settings, BenchMosquitto broker, List<BenchDaemon> hubs, IReadOnlyList<byte[]> frames, CancellationToken cancellationToken)
    {
        var count = settings.Streams;
        var earbuds = new ApplianceClient?[count];
        var controls = new Dictionary<string, ApplianceClient>(StringComparer.Ordinal);
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = ConnectParallelism, CancellationToken = cancellationToken }, async (i, token) =>
            {
                earbuds[i] = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, FleetGroup = Group, DefaultTimeout = ControlTimeout }, token).ConfigureAwait(false);
            }).ConfigureAwait(false);
            foreach (var hub in hubs)
            {
                controls[hub.DeviceId] = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = hub.DeviceId, DefaultTimeout = ControlTimeout }, cancellationToken).ConfigureAwait(false);
            }

            // Placement: each start goes to the fleet topic and is taken by one hub.
            var placed = new (string Session, string Hub)?[count];
            var refused = 0;
            var problems = new ConcurrentQueue<string>();
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = ConnectParallelism, CancellationToken = cancellationToken }, async (i, token) =>
            {
                var session = string.Create(CultureInfo.InvariantCulture, $"fleet-{hubs.Count}-{i:D3}");
                var (hub, result) = await earbuds[i]!.StartMeetingInFleetAsync(new MeetingStartParams { SessionId = session, Codec = AudioCodecs.Opus, SampleRate = MeetingAudio.SampleRate, Channels = 1 }, attempts: hubs.Count, cancellationToken: token).ConfigureAwait(false);
                if (hub is not null)
                {
                    placed[i] = (session, hub);
                }
                else if (result.Error?.Code == RpcErrorCodes.Busy)
                {
                    Interlocked.Increment(ref refused);
                }
                else
                {
                    problems.Enqueue($"{session}: {result.Error?.Code}: {result.Error?.Message}");
                }
            }).ConfigureAwait(false);

            var ready = Enumerable.Range(0, count).Where(i => placed[i] is not null).ToArray();
            var sent = new long[count];
            var framesPerStream = settings.Seconds * MeetingAudio.FramesPerSecond;
            var hubsCpuBefore = hubs.Sum(h => h.CpuTicks());
            var brokerCpuBefore = broker.CpuTicks();
            var (elapsed, lagP99, _) = await FramePacer.SendAsync(ready.Length, framesPerStream, async (k, sequence) =>
            {
                var i = ready[k];
                var (session, hub) = placed[i]!.Value;
                var message = MeetingAudioFrame.Create(hub, session, sequence, AudioCodecs.Opus, frames[(int)((i * frames.Count / count + sequence) % frames.Count)]);
                if ((await earbuds[i]!.PublishAsync(message, cancellationToken).ConfigureAwait(false)).IsSuccess)
                {
                    Interlocked.Increment(ref sent[i]);
                }
            }, cancellationToken).ConfigureAwait(false);
            var hubsCpu = ProcessFigures.CpuPercent(hubsCpuBefore, hubs.Sum(h => h.CpuTicks()), elapsed);
            var brokerCpu = ProcessFigures.CpuPercent(brokerCpuBefore, broker.CpuTicks(), elapsed);

            // Every stream stops on the hub that took it; then each hub says what it journaled.
            long accepted = 0;
            await Task.WhenAll(ready.Select(async i =>
            {
                var (session, hub) = placed[i]!.Value;
                // As the earbuds would: a hub whose request queue is full answers busy, and the stop is sent again after its retry hint.
                var stop = await new MeetingStreamer(controls[hub]).StopAsync(session, framesPerStream - 1, ControlTimeout, cancellationToken).ConfigureAwait(false);
                if (stop.Error is { } error)
                {
                    problems.Enqueue($"{session} stop: {error.Code}: {error.Message}");
                }
            })).ConfigureAwait(false);
            foreach (var i in ready)
            {
                var (session, hub) = placed[i]!.Value;
                var (record, problem) = await MeetingRecord.GetAsync(controls[hub], session, cancellationToken).ConfigureAwait(false);
                if (record is null)
                {
                    problems.Enqueue(problem!);
                    continue;
                }

                accepted += record.Accepted;
            }

            var perHub = ready.GroupBy(i => placed[i]!.Value.Hub).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return new StreamFigures(
                new SortedDictionary<string, int>(perHub, StringComparer.Ordinal),
                refused,
                sent.Sum(),
                accepted,
                elapsed,
                hubsCpu,
                brokerCpu,
                lagP99,
                problems.TryPeek(out var first) ? $"streams: {first}" : null);
        }
        finally
        {
            await Task.WhenAll(earbuds.Where(c => c is not null).Concat(controls.Values).Select(c => c!.DisposeAsync().AsTask())).ConfigureAwait(false);
        }
    }

    /// <summary>An <c>asr.transcribe</c> request for the first <paramref name="seconds"/> of the recording, as 16 kHz s16le PCM.</summary>
    private static byte[] TranscribeRequest(MeetingAudio audio, double seconds)
    {
        var samples = audio.Samples.AsSpan(0, Math.Min(audio.Samples.Length, (int)(seconds * MeetingAudio.SampleRate)));
        var pcm = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt16LittleEndian(pcm.AsSpan(2 * i), (short)Math.Clamp(samples[i] * 32767f, short.MinValue, short.MaxValue));
        }

        return JsonSerializer.SerializeToUtf8Bytes(new AsrTranscribeParams { Audio = Convert.ToBase64String(pcm), Format = "s16le", SampleRate = MeetingAudio.SampleRate, Language = "en" }, RpcMethods.AsrTranscribe.ParamsInfo);
    }
}
