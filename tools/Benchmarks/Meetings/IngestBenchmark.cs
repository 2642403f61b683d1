using System.Diagnostics;
using System.Globalization;
using System.Text;
using Appliance.Contracts;
using Appliance.MeetingPlayer;
using MQTTnet;
using MQTTnet.Protocol;

namespace Appliance.Benchmarks.Meetings;

/// <summary>What the ingest figure runs.</summary>
/// <param name="StreamCounts">Concurrent streams of each step, in order.</param>
/// <param name="Seconds">Audio each stream sends per step (in real time).</param>
/// <param name="WorkDirectory">Where the profile and the daemon's working directory (and so its journals) go.</param>
/// <param name="VadModel">Silero VAD graph for the profile, or null for the daemon's energy detector.</param>
/// <param name="Capacity">The profile's <c>meetings.capacity</c> (admission control), or null for the largest step, so that the steps measure what the daemon takes.</param>
internal sealed record IngestSettings(IReadOnlyList<int> StreamCounts, int Seconds, string WorkDirectory, string? VadModel, int? Capacity);

/// <summary>One step: <see cref="Streams"/> meetings streamed at once in real time.</summary>
/// <param name="Streams">Concurrent streams, each its own MQTT connection.</param>
/// <param name="Refused">Streams whose start the daemon answered <c>busy</c> (admission control): they send nothing.</param>
/// <param name="FramesSent">Audio frames published, all admitted streams.</param>
/// <param name="FramesAccepted">Frames the daemon journaled (<c>meetings.get</c>), all streams.</param>
/// <param name="GapFrames">Frames the daemon reports missing (gaps), all streams.</param>
/// <param name="Dropped">Frames sessions received but dropped (late, after stop, codec, payload), all streams.</param>
/// <param name="Elapsed">Wall time of the streaming, from the first frame's due time to the last publish.</param>
/// <param name="DaemonCpuPercent">The daemon's CPU over <see cref="Elapsed"/>, percent of one core.</param>
/// <param name="BenchCpuPercent">This program's CPU (the clients) over the same time.</param>
/// <param name="DaemonPeakRssKib">The daemon's peak resident set over the step (or since its start, see the report).</param>
/// <param name="StopReplyMedian">Median time from sending stop to its reply, over the streams.</param>
/// <param name="StopReplyMax">The slowest stop reply.</param>
/// <param name="SendLagP99">99th percentile of how late a frame went out against its schedule (the client's own pacing).</param>
/// <param name="SendLagMax">The latest frame.</param>
/// <param name="Failure">Why the step did not complete, or null.</param>
internal sealed record IngestStep(
    int Streams,
    int Refused,
    long FramesSent,
    long FramesAccepted,
    long GapFrames,
    long Dropped,
    TimeSpan Elapsed,
    double DaemonCpuPercent,
    double BenchCpuPercent,
    long DaemonPeakRssKib,
    TimeSpan StopReplyMedian,
    TimeSpan StopReplyMax,
    TimeSpan SendLagP99,
    TimeSpan SendLagMax,
    string? Failure)
{
    public long Lost => FramesSent - FramesAccepted;

    /// <summary>The step completed and every frame sent was accepted.</summary>
    public bool Lossless => Failure is null && Lost == 0;

    public static IngestStep Failed(int streams, string failure) =>
        new(streams, 0, 0, 0, 0, 0, TimeSpan.Zero, double.NaN, double.NaN, 0, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, TimeSpan.Zero, failure);
}

/// <summary>The ingest figure: every step run, and how it was run.</summary>
/// <param name="Steps">The steps, in order; the last one is the first that lost frames or failed, unless all were clean.</param>
/// <param name="Seconds">Audio per stream per step.</param>
/// <param name="MeanFrameBytes">Mean Opus packet size.</param>
/// <param name="Vad">The voice activity detector the meeting worker ran.</param>
/// <param name="PeakPerStep">Whether the daemon's peak RSS was reset before each step (else it is the peak since start).</param>
/// <param name="DaemonProblems">Warnings and errors the daemon logged.</param>
/// <param name="Capacity">The profile's <c>meetings.capacity</c>: starts beyond it were answered busy.</param>
internal sealed record IngestReport(IReadOnlyList<IngestStep> Steps, int Seconds, double MeanFrameBytes, string Vad, bool PeakPerStep, IReadOnlyList<string> DaemonProblems, int Capacity)
{
    /// <summary>The largest stream count ingested whole without loss, or null when the first step already lost frames.</summary>
    public int? LargestLossless => Steps.Where(s => s.Lossless && s.Refused == 0).Select(s => (int?)s.Streams).Max();
}

/// <summary>
/// Figure 1, ingest capacity with transcription excluded: the daemon (no speech recogniser, no language model) takes
/// N real-time meeting streams at once, each from its own MQTT connection, for a fixed time; then every stream stops
/// and <c>meetings.get</c> says how many frames each session accepted. N grows step by step until a step loses a
/// frame or fails. Every stream replays the same Opus frames (encoded once) from its own point in the recording.
/// </summary>
internal static class IngestBenchmark
{
    private const int ConnectParallelism = 16;
    private static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan SettleBetweenSteps = TimeSpan.FromSeconds(3);

    public static async Task<IngestReport> RunAsync(IngestSettings settings, MeetingAudio audio, Action<string> progress, CancellationToken cancellationToken)
    {
        var frames = audio.OpusFrames();
        var capacity = settings.Capacity ?? settings.StreamCounts.Max();
        var profile = BenchProfiles.IngestOnly(settings.VadModel, capacity);
        var profilePath = BenchProfiles.Write(profile, settings.WorkDirectory, "ingest-profile");
        progress($"ingest: starting the daemon (profile {profilePath})");
        await using var daemon = await BenchDaemon.StartAsync(profilePath, BenchProfiles.DeviceId(profile), Path.Combine(settings.WorkDirectory, "ingest-daemon"), TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
        var control = await daemon.ConnectAsync(cancellationToken).ConfigureAwait(false);
        await using (control.ConfigureAwait(false))
        {
            var vad = await VadInUseAsync(control, settings.VadModel, cancellationToken).ConfigureAwait(false);
            // An unrecorded short step first, so that neither side's first-call costs (JIT, first connections) land in the figures.
            progress("ingest: warm-up, 2 streams for 3 s");
            var warmUp = await RunStepAsync(daemon, control, frames, 2, 3, "warmup", progress, cancellationToken).ConfigureAwait(false);
            var steps = new List<IngestStep>();
            var peakPerStep = true;
            if (!warmUp.Lossless)
            {
                steps.Add(IngestStep.Failed(settings.StreamCounts[0], $"the warm-up (2 streams, 3 s) already failed: {warmUp.Failure ?? $"{warmUp.Lost} frames lost"}"));
                return new IngestReport(steps, settings.Seconds, frames.Average(f => f.Length), vad, peakPerStep, daemon.Problems, capacity);
            }

            foreach (var streams in settings.StreamCounts)
            {
                progress(string.Create(CultureInfo.InvariantCulture, $"ingest: {streams} streams for {settings.Seconds} s"));
                peakPerStep &= daemon.TryResetPeak();
                var step = await RunStepAsync(daemon, control, frames, streams, settings.Seconds, "ingest", progress, cancellationToken).ConfigureAwait(false);
                steps.Add(step);
                progress(step.Failure is { } failure
                    ? $"ingest: {streams} streams failed: {failure}"
                    : string.Create(CultureInfo.InvariantCulture, $"ingest: {streams} streams: {step.FramesAccepted} of {step.FramesSent} frames accepted, daemon CPU {step.DaemonCpuPercent:F0} %"));
                if (!step.Lossless || daemon.HasExited)
                {
                    break;
                }

                await Task.Delay(SettleBetweenSteps, cancellationToken).ConfigureAwait(false);
            }

            return new IngestReport(steps, settings.Seconds, frames.Average(f => f.Length), vad, peakPerStep, daemon.Problems, capacity);
        }
    }

    private static async Task<IngestStep> RunStepAsync(BenchDaemon daemon, ApplianceClient control, IReadOnlyList<byte[]> frames, int count, int seconds, string sessionPrefix, Action<string> progress, CancellationToken cancellationToken)
    {
        try
        {
            return await MeasureStepAsync(daemon, control, frames, count, seconds, sessionPrefix, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException or TimeoutException)
        {
            // The control connection or the daemon went away: the step did not complete.
            return IngestStep.Failed(count, $"{ex.GetType().Name}: {ex.Message}{(daemon.ExitDescription is { } exit ? "; " + exit : "")}");
        }
    }

    private static async Task<IngestStep> MeasureStepAsync(BenchDaemon daemon, ApplianceClient control, IReadOnlyList<byte[]> frames, int count, int seconds, string sessionPrefix, Action<string> progress, CancellationToken cancellationToken)
    {
        var streams = new IngestStream?[count];
        try
        {
            try
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = ConnectParallelism, CancellationToken = cancellationToken }, async (i, token) =>
                {
                    var client = await daemon.ConnectAsync(token).ConfigureAwait(false);
                    streams[i] = new IngestStream(client, daemon.DeviceId, string.Create(CultureInfo.InvariantCulture, $"{sessionPrefix}-{count:D3}-{i:D3}"), frames, i * frames.Count / count);
                }).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException or System.Net.Sockets.SocketException)
            {
                return IngestStep.Failed(count, $"connecting the clients: {ex.Message}");
            }

            var connected = streams.Select(s => s!).ToArray();
            var startProblems = new List<string>();
            var refused = new System.Collections.Concurrent.ConcurrentBag<IngestStream>();
            await Parallel.ForEachAsync(connected, new ParallelOptions { MaxDegreeOfParallelism = ConnectParallelism, CancellationToken = cancellationToken }, async (stream, token) =>
            {
                var (busy, problem) = await stream.StartAsync(token).ConfigureAwait(false);
                if (busy)
                {
                    refused.Add(stream);
                }
                else if (problem is not null)
                {
                    lock (startProblems)
                    {
                        startProblems.Add(problem);
                    }
                }
            }).ConfigureAwait(false);
            if (startProblems.Count > 0)
            {
                return IngestStep.Failed(count, string.Create(CultureInfo.InvariantCulture, $"{startProblems.Count} starts failed, first: {startProblems[0]}"));
            }

            // Streams answered busy send nothing, as earbuds told to go elsewhere would.
            var ready = connected.Except(refused).ToArray();
            if (ready.Length == 0)
            {
                return IngestStep.Failed(count, string.Create(CultureInfo.InvariantCulture, $"all {count} starts were answered busy (are the last step's meetings still open?)"));
            }

            var framesPerStream = seconds * MeetingAudio.FramesPerSecond;
            var daemonCpuBefore = daemon.CpuTicks();
            var benchCpuBefore = ProcessFigures.CpuTicks(Environment.ProcessId);
            var (elapsed, lagP99, lagMax) = await FramePacer.SendAsync(ready.Length, framesPerStream, (i, sequence) => ready[i].SendAsync(sequence, cancellationToken), cancellationToken).ConfigureAwait(false);
            var daemonCpu = ProcessFigures.CpuPercent(daemonCpuBefore, daemon.CpuTicks(), elapsed);
            var benchCpu = ProcessFigures.CpuPercent(benchCpuBefore, ProcessFigures.CpuTicks(Environment.ProcessId), elapsed);

            // All streams stop at once, as a meeting room's earbuds would when the meeting ends.
            var stops = await Task.WhenAll(ready.Select(s => s.StopAsync(framesPerStream - 1, cancellationToken))).ConfigureAwait(false);
            var peakKib = daemon.HasExited ? 0 : daemon.PeakResidentKib();
            var stopTimes = stops.Where(s => s.Problem is null).Select(s => s.Latency).Order().ToList();

            long accepted = 0, gaps = 0, dropped = 0;
            var problems = new List<string>(stops.Where(s => s.Problem is not null).Select(s => s.Problem!));
            foreach (var stream in ready)
            {
                var (record, problem) = await MeetingRecord.GetAsync(control, stream.SessionId, cancellationToken).ConfigureAwait(false);
                if (record is null)
                {
                    problems.Add(problem!);
                    continue;
                }

                accepted += record.Accepted;
                gaps += record.GapFrames;
                dropped += record.Dropped;
            }

            // Finished sessions would otherwise stay on the device (and in the next step's way).
            foreach (var stream in ready)
            {
                if (await MeetingRecord.DeleteAsync(control, stream.SessionId, cancellationToken).ConfigureAwait(false) is { } problem)
                {
                    progress(problem);
                }
            }

            var failedPublishes = ready.Sum(s => s.FailedPublishes);
            if (failedPublishes > 0)
            {
                problems.Add(string.Create(CultureInfo.InvariantCulture, $"{failedPublishes} publishes failed, first: {ready.FirstOrDefault(s => s.FirstPublishProblem is not null)?.FirstPublishProblem}"));
            }

            return new IngestStep(
                count,
                refused.Count,
                ready.Sum(s => s.Sent),
                accepted,
                gaps,
                dropped,
                elapsed,
                daemonCpu,
                benchCpu,
                peakKib,
                stopTimes.Count == 0 ? TimeSpan.Zero : stopTimes[stopTimes.Count / 2],
                stopTimes.Count == 0 ? TimeSpan.Zero : stopTimes[^1],
                lagP99,
                lagMax,
                problems.Count == 0 ? null : string.Join("; ", problems.Take(3)) + (problems.Count > 3 ? string.Create(CultureInfo.InvariantCulture, $" (and {problems.Count - 3} more)") : ""));
        }
        finally
        {
            await Task.WhenAll(streams.Where(s => s is not null).Select(s => s!.DisposeAsync().AsTask())).ConfigureAwait(false);
        }
    }

    private static async Task<string> VadInUseAsync(ApplianceClient control, string? vadModel, CancellationToken cancellationToken)
    {
        if (vadModel is null)
        {
            return "energy detector (no Silero model given)";
        }

        // The status says whether the Silero model loaded or the daemon fell back to its energy detector.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        while (!timeout.IsCancellationRequested)
        {
            var models = await DaemonModels.ReadAsync(control, timeout.Token).ConfigureAwait(false);
            if (models.FirstOrDefault(m => m.Feature == ModelFeatures.Vad) is { } vad)
            {
                return vad.State == ModelStates.Loaded ? $"Silero ({Path.GetFileName(vadModel)})" : $"energy detector ({vad.State}: {vad.Error})";
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), timeout.Token).ConfigureAwait(false);
        }

        return "unknown (the status named no VAD model)";
    }

    /// <summary>One earbud stream: its own MQTT connection, its session, and the shared frames from its own offset.</summary>
    private sealed class IngestStream(ApplianceClient client, string deviceId, string sessionId, IReadOnlyList<byte[]> frames, int offset) : IAsyncDisposable
    {
        private readonly MeetingStreamer _streamer = new(client);
        private long _sent;
        private int _failedPublishes;

        public string SessionId => sessionId;

        public long Sent => Interlocked.Read(ref _sent);

        public int FailedPublishes => Volatile.Read(ref _failedPublishes);

        public string? FirstPublishProblem { get; private set; }

        /// <summary>Starts the session: busy (admission control refused it), or a problem, or neither (started).</summary>
        public async Task<(bool Busy, string? Problem)> StartAsync(CancellationToken cancellationToken)
        {
            try
            {
                var reply = await _streamer.StartAsync(sessionId, new MeetingStreamOptions { Codec = MeetingCodec.Opus, SampleRate = MeetingAudio.SampleRate, FrameMs = MeetingAudio.FrameMs, ControlTimeout = ControlTimeout }, cancellationToken).ConfigureAwait(false);
                return reply.Error is { } error
                    ? (error.Code == RpcErrorCodes.Busy, $"{sessionId}: start refused: {error.Code}: {error.Message}")
                    : (false, null);
            }
            catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                return (false, $"{sessionId}: {ex.Message}");
            }
        }

        public async Task SendAsync(long sequence, CancellationToken cancellationToken)
        {
            var message = MeetingAudioFrame.Create(deviceId, sessionId, sequence, AudioCodecs.Opus, frames[(int)((offset + sequence) % frames.Count)]);
            try
            {
                var result = await client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
                if (result.IsSuccess)
                {
                    Interlocked.Increment(ref _sent);
                    return;
                }

                Failed($"{result.ReasonCode} {result.ReasonString}");
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException ex)
            {
                Failed(ex.Message);
            }
        }

        public async Task<(TimeSpan Latency, string? Problem)> StopAsync(long lastSequence, CancellationToken cancellationToken)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                var reply = await _streamer.StopAsync(sessionId, lastSequence, ControlTimeout, cancellationToken).ConfigureAwait(false);
                return (watch.Elapsed, reply.Error is { } error ? $"{sessionId}: stop refused: {error.Code}: {error.Message}" : null);
            }
            catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                return (watch.Elapsed, $"{sessionId}: {ex.Message}");
            }
        }

        public ValueTask DisposeAsync() => client.DisposeAsync();

        private void Failed(string problem)
        {
            if (Interlocked.Increment(ref _failedPublishes) == 1)
            {
                FirstPublishProblem = problem;
            }
        }
    }
}
