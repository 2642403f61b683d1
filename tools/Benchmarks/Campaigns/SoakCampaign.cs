using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the soak runs.</summary>
/// <param name="Duration">How long the mixed load runs.</param>
/// <param name="WarmUp">The first part of it, left out of the growth figures (models load, caches and pools fill).</param>
/// <param name="SampleEvery">How often the daemon's figures are read.</param>
/// <param name="MeetingLength">How long each meeting streams before it stops.</param>
/// <param name="WorkDirectory">Where the forged models and the daemon's files go.</param>
/// <param name="Loads">The kinds of load that run; all of them make the mixed load, one alone tells which one grows.</param>
internal sealed record SoakSettings(TimeSpan Duration, TimeSpan WarmUp, TimeSpan SampleEvery, TimeSpan MeetingLength, string WorkDirectory, IReadOnlySet<SoakLoadKind> Loads)
{
    /// <summary>Every kind of load: the mixed load.</summary>
    public static IReadOnlySet<SoakLoadKind> AllLoads { get; } = Enum.GetValues<SoakLoadKind>().ToHashSet();

    /// <summary>What runs, in words: "mixed load" when every kind does, else the kinds that do.</summary>
    public string LoadName => Loads.SetEquals(AllLoads) ? "mixed load" : string.Join(" and ", Enum.GetValues<SoakLoadKind>().Where(Loads.Contains).Select(k => k.ToString().ToLowerInvariant()));
}

/// <summary>One kind of the soak's load (<see cref="SoakCampaign.Describe"/> says what each sends, and how often).</summary>
internal enum SoakLoadKind
{
    /// <summary>Meetings streamed, stopped, completed and deleted.</summary>
    Meetings,

    /// <summary><c>llm.chat</c> requests.</summary>
    Chats,

    /// <summary><c>voice.text</c> commands.</summary>
    Commands,

    /// <summary><c>asr.transcribe</c> requests.</summary>
    Transcriptions,
}

/// <summary>The daemon's figures at one moment.</summary>
/// <param name="At">Time since the load started.</param>
/// <param name="ResidentMib">Resident set.</param>
/// <param name="CpuPercent">CPU used since the sample before, in percent of one core.</param>
/// <param name="OpenFiles">Open file descriptors, assembly images left out (<see cref="SoakCampaign.IsAssemblyImage"/>).</param>
/// <param name="AssemblyImages">Descriptors that hold a loaded assembly's image: the runtime keeps them open (two for
/// some assemblies) for as long as the assembly is loaded, so their count is bounded by the daemon's assemblies; an
/// assembly that loads late, for example when the JIT recompiles a method that can reach it, adds them then.</param>
/// <param name="Threads">Threads.</param>
/// <param name="RpcQueued">Requests queued (the status document's load).</param>
/// <param name="Meetings">Meetings recording.</param>
internal sealed record SoakSample(TimeSpan At, double ResidentMib, double CpuPercent, int OpenFiles, int AssemblyImages, int Threads, int RpcQueued, int Meetings);

/// <summary>How one kind of load went.</summary>
internal sealed record SoakLoad(string Name, int Done, int Failed, IReadOnlyList<string> Failures);

/// <summary>What the soak found.</summary>
/// <param name="Samples">Every sample, in order.</param>
/// <param name="Loads">Each kind of load with its count and failures.</param>
/// <param name="Settings">What ran.</param>
/// <param name="Failure">Why it stopped early, or null.</param>
/// <param name="FilesOpenedAfterWarmUp">What the descriptors open at the end and not at the warm-up's end point at (<see cref="ProcessFigures.OpenFileTargets"/>), each as often as it is new.</param>
/// <param name="DaemonProblems">How many warnings and errors the daemon logged, and the first of them.</param>
internal sealed record SoakReport(IReadOnlyList<SoakSample> Samples, IReadOnlyList<SoakLoad> Loads, SoakSettings Settings, string? Failure, IReadOnlyList<string> FilesOpenedAfterWarmUp, (int Count, IReadOnlyList<string> First) DaemonProblems)
{
    /// <summary>The samples after the warm-up.</summary>
    public IReadOnlyList<SoakSample> Steady => [.. Samples.Where(s => s.At >= Settings.WarmUp)];

    /// <summary>How much a figure grew after the warm-up: the median of the last tenth of the steady samples against the median of the first tenth.</summary>
    public (double First, double Last) Ends(Func<SoakSample, double> figure)
    {
        var steady = Steady;
        var tenth = Math.Max(1, steady.Count / 10);
        return steady.Count == 0 ? (0, 0) : (Median(steady.Take(tenth).Select(figure)), Median(steady.TakeLast(tenth).Select(figure)));
    }

    /// <summary>RSS growth after the warm-up, in percent.</summary>
    public double ResidentGrowthPercent => Ends(s => s.ResidentMib) is var (first, last) && first > 0 ? (last - first) / first * 100 : 0;

    /// <summary>
    /// The goals: RSS growth under 5 %, no growth in open files (assembly images left out: one per assembly loaded,
    /// bounded by the daemon's own) or threads, no failed request, no early stop.
    /// </summary>
    public bool Passed =>
        Failure is null && Steady.Count >= 2 && ResidentGrowthPercent < 5
        && Ends(s => s.OpenFiles) is var (filesFirst, filesLast) && filesLast <= filesFirst
        && Ends(s => s.Threads) is var (threadsFirst, threadsLast) && threadsLast <= threadsFirst
        && Loads.All(l => l.Failed == 0 && l.Done > 0);

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}

/// <summary>
/// The soak: the daemon with tiny forged models (whisper-tiny for speech, a tiny R1 for chats and summaries) under
/// the kinds of load its settings choose, all of them side by side by default (each described by <see cref="Describe"/>),
/// for a given time. Every sample reads the daemon's
/// resident set, CPU, open files and threads from /proc and its queue and meetings from its status. Bounded: the
/// duration given, and 2 minutes for each call.
/// </summary>
internal static class SoakCampaign
{
    private const string DeviceId = "soak-hub";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan ChatEvery = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan CommandEvery = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan TranscriptionEvery = TimeSpan.FromSeconds(5);

    /// <summary>What one kind of load sends, and how often, in words (the report's rows and the markdown's set-up).</summary>
    public static string Describe(SoakLoadKind kind, SoakSettings settings) => kind switch
    {
        SoakLoadKind.Meetings => string.Create(CultureInfo.InvariantCulture, $"meetings, two at a time, 16 kHz PCM streamed in real time for {settings.MeetingLength.TotalSeconds:0} s, each completed to its summary, then deleted"),
        SoakLoadKind.Chats => string.Create(CultureInfo.InvariantCulture, $"llm.chat every {ChatEvery.TotalSeconds:0} s"),
        SoakLoadKind.Commands => string.Create(CultureInfo.InvariantCulture, $"voice.text every {CommandEvery.TotalSeconds:0} s (the TV's schema; one a template takes, one it leaves to the voice model)"),
        SoakLoadKind.Transcriptions => string.Create(CultureInfo.InvariantCulture, $"asr.transcribe of 2 s every {TranscriptionEvery.TotalSeconds:0} s"),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static async Task<SoakReport> RunAsync(SoakSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profile = BenchProfiles.TinyModels(settings.WorkDirectory, out _);
        profile["commands"] = BenchProfiles.TvCommands();
        var profilePath = BenchProfiles.Write(profile, settings.WorkDirectory, "soak-profile");
        await using var daemon = await BenchDaemon.StartAsync(profilePath, DeviceId, Path.Combine(settings.WorkDirectory, "soak-daemon"), TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = daemon.Port, DeviceId = DeviceId, DefaultTimeout = CallTimeout }, cancellationToken).ConfigureAwait(false);
        await DaemonModels.WaitSettledAsync(client, [ModelFeatures.Asr, ModelFeatures.SummaryLlm, ModelFeatures.VoiceLlm], CallTimeout, cancellationToken).ConfigureAwait(false);
        progress($"soak: {settings.Duration.TotalMinutes:0.#} min of {settings.LoadName}, a sample every {settings.SampleEvery.TotalSeconds:0} s, the first {settings.WarmUp.TotalMinutes:0.#} min warm-up");

        using var running = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        running.CancelAfter(settings.Duration);
        var pcm = new byte[16000 * 2 * 2]; // 2 s of 16 kHz s16le: noise, then silence
        new Random(11).NextBytes(pcm.AsSpan(0, pcm.Length / 2));
        var counters = Enum.GetValues<SoakLoadKind>().Where(settings.Loads.Contains).ToDictionary(kind => kind, kind => new LoadCounter(kind, Describe(kind, settings)));
        var samples = new List<SoakSample>();
        var commandCount = 0;
        string? failure = null;
        var loads = new List<Task>();
        if (counters.TryGetValue(SoakLoadKind.Chats, out var chats))
        {
            loads.Add(EveryAsync(ChatEvery, chats, async token =>
                (await client.InvokeAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Is the fridge door open?")], MaxTokens = 16, Temperature = 0 }, cancellationToken: token).ConfigureAwait(false)).Error, running.Token));
        }

        if (counters.TryGetValue(SoakLoadKind.Commands, out var commands))
        {
            loads.Add(EveryAsync(CommandEvery, commands, async token =>
                (await client.InvokeAsync(RpcMethods.VoiceText, new VoiceTextParams { Text = Interlocked.Increment(ref commandCount) % 2 == 0 ? "turn the volume up to 20" : "make the picture brighter" }, cancellationToken: token).ConfigureAwait(false)).Error, running.Token));
        }

        if (counters.TryGetValue(SoakLoadKind.Transcriptions, out var transcriptions))
        {
            loads.Add(EveryAsync(TranscriptionEvery, transcriptions, async token =>
                (await client.InvokeAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = Convert.ToBase64String(pcm), Format = "s16le", Language = "en" }, cancellationToken: token).ConfigureAwait(false)).Error, running.Token));
        }

        if (counters.TryGetValue(SoakLoadKind.Meetings, out var meetings))
        {
            loads.Add(MeetingsAsync(client, pcm, settings.MeetingLength, 0, meetings, running.Token));
            loads.Add(MeetingsAsync(client, pcm, settings.MeetingLength, 1, meetings, running.Token));
        }

        var started = Stopwatch.StartNew();
        IReadOnlyList<string>? filesAtWarmUp = null;
        IReadOnlyList<string> filesAtEnd = [];
        var ticks = daemon.CpuTicks();
        var lastSample = started.Elapsed;
        try
        {
            while (!running.IsCancellationRequested)
            {
                await Task.Delay(settings.SampleEvery, running.Token).ConfigureAwait(false);
                if (daemon.ExitDescription is { } exit)
                {
                    failure = exit;
                    break;
                }

                var now = started.Elapsed;
                var ticksNow = daemon.CpuTicks();
                var load = (await client.GetStatusAsync(running.Token).ConfigureAwait(false)).Load;
                filesAtEnd = ProcessFigures.OpenFileTargets(daemon.ProcessId);
                var assemblies = filesAtEnd.Count(IsAssemblyImage);
                samples.Add(new SoakSample(now, daemon.ResidentKib() / 1024.0, ProcessFigures.CpuPercent(ticks, ticksNow, now - lastSample), filesAtEnd.Count - assemblies, assemblies, ProcessFigures.Threads(daemon.ProcessId), load?.RpcQueued ?? 0, load?.Meetings ?? 0));
                (ticks, lastSample) = (ticksNow, now);
                if (now >= settings.WarmUp)
                {
                    filesAtWarmUp ??= filesAtEnd;
                }

                if (samples.Count % Math.Max(1, (int)(TimeSpan.FromMinutes(5) / settings.SampleEvery)) == 0)
                {
                    var s = samples[^1];
                    progress(string.Create(CultureInfo.InvariantCulture, $"soak: {now.TotalMinutes:0.0} min: RSS {s.ResidentMib:0} MiB, {s.Threads} threads, {s.OpenFiles} files and {s.AssemblyImages} assembly images open; {string.Join(", ", counters.Values.Select(c => $"{c.Done} {c.Kind.ToString().ToLowerInvariant()}"))}; {counters.Values.Sum(c => c.Failed)} failed"));
                }

            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The soak's time is over.
        }
        catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException or IOException)
        {
            // Everything known at the moment, for a failure that a run may show once in many.
            failure = string.Create(CultureInfo.InvariantCulture, $"{started.Elapsed.TotalSeconds:0.0} s into the soak, reading the status: {ex.GetType().Name}: {ex.Message}; ")
                + (daemon.ExitDescription ?? string.Create(CultureInfo.InvariantCulture, $"the daemon runs with {ProcessFigures.Threads(daemon.ProcessId)} threads, {daemon.ResidentKib() / 1024.0:0} MiB; its last warnings: {string.Join(" | ", daemon.Problems.TakeLast(5))}; its last lines: {string.Join(" | ", daemon.Tail.TakeLast(5))}"));
        }

        await running.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(loads).ConfigureAwait(false);
        return new SoakReport(samples, [.. counters.Values.Select(c => c.Snapshot())], settings, failure, Opened(filesAtWarmUp ?? filesAtEnd, filesAtEnd), (daemon.ProblemCount, [.. daemon.Problems.Take(3)]));
    }

    /// <summary>Whether a descriptor's target is an assembly's image (a <c>.dll</c> the runtime loaded), as opposed to a file the daemon opened.</summary>
    internal static bool IsAssemblyImage(string target) => target.EndsWith(".dll", StringComparison.Ordinal);

    /// <summary>The targets in <paramref name="after"/> beyond those in <paramref name="before"/>, counted: a file open twice more shows twice.</summary>
    internal static IReadOnlyList<string> Opened(IReadOnlyList<string> before, IReadOnlyList<string> after)
    {
        var left = before.CountBy(t => t).ToDictionary();
        var opened = new List<string>();
        foreach (var target in after)
        {
            if (left.TryGetValue(target, out var n) && n > 0)
            {
                left[target] = n - 1;
            }
            else
            {
                opened.Add(target);
            }
        }

        opened.Sort(StringComparer.Ordinal);
        return opened;
    }

    /// <summary>Runs <paramref name="call"/> every <paramref name="period"/> until cancelled, counting what it answers; returns when cancelled.</summary>
    private static async Task EveryAsync(TimeSpan period, LoadCounter counter, Func<CancellationToken, Task<RpcError?>> call, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    counter.Count(await call(cancellationToken).ConfigureAwait(false) is { } error ? $"{error.Code}: {error.Message}" : null);
                }
                catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
                {
                    counter.Count($"{ex.GetType().Name}: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The soak is over; a call cut short by it is not counted.
        }
    }

    /// <summary>One meeting after another: start, stream in real time for <paramref name="length"/>, stop, wait for the summary, check every frame is accounted for, delete.</summary>
    private static async Task MeetingsAsync(ApplianceClient client, byte[] pcm, TimeSpan length, int lane, LoadCounter counter, CancellationToken cancellationToken)
    {
        try
        {
            for (var n = 0; !cancellationToken.IsCancellationRequested; n++)
            {
                var session = string.Create(CultureInfo.InvariantCulture, $"soak-{lane}-{n:D4}");
                try
                {
                    counter.Count(await OneMeetingAsync(client, pcm, length, session, cancellationToken).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
                {
                    counter.Count($"{session}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The soak is over: the meeting in progress is not counted.
        }
    }

    /// <summary>One meeting of the load; null when it went as it should, else what went wrong.</summary>
    private static async Task<string?> OneMeetingAsync(ApplianceClient client, byte[] pcm, TimeSpan length, string session, CancellationToken cancellationToken)
    {
        const int FrameBytes = 640; // 20 ms
        var start = await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1, Language = "en" }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (start.Error is { } refused)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            return $"{session} start: {refused.Code}: {refused.Message}";
        }

        var frames = (long)(length / TimeSpan.FromMilliseconds(20));
        var pace = Stopwatch.StartNew();
        for (long seq = 0; seq < frames; seq++)
        {
            await client.PublishAsync(MeetingAudioFrame.Create(DeviceId, session, seq, AudioCodecs.PcmS16LE, pcm.AsMemory((int)(seq % 100 * FrameBytes), FrameBytes)), cancellationToken).ConfigureAwait(false);
            if (TimeSpan.FromMilliseconds(20 * (seq + 1)) - pace.Elapsed is { } wait && wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            }
        }

        if ((await client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = session, LastSequence = frames - 1 }, cancellationToken: cancellationToken).ConfigureAwait(false)).Error is { } stopError)
        {
            return $"{session} stop: {stopError.Code}: {stopError.Message}";
        }

        var waited = Stopwatch.StartNew();
        MeetingRecord? record;
        while ((record = (await MeetingRecord.GetAsync(client, session, cancellationToken).ConfigureAwait(false)).Record) is not { State: "completed" or "failed" } && waited.Elapsed < CallTimeout)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }

        var deleted = await MeetingRecord.DeleteAsync(client, session, cancellationToken).ConfigureAwait(false);
        return record switch
        {
            { State: "completed" } when record.Accepted + record.GapFrames != frames => $"{session}: {record.Accepted} accepted and {record.GapFrames} missing of {frames} sent",
            { State: "completed" } => deleted is null ? null : $"{session} delete: {deleted}",
            _ => $"{session}: {record?.State ?? "gone"} after {CallTimeout.TotalSeconds:0} s",
        };
    }

    /// <summary>Counts one kind of load from several tasks.</summary>
    private sealed class LoadCounter(SoakLoadKind kind, string name)
    {
        public SoakLoadKind Kind => kind;

        private readonly Lock _sync = new();
        private readonly List<string> _failures = [];
        private int _done;

        public int Done => Volatile.Read(ref _done);

        public int Failed
        {
            get
            {
                lock (_sync)
                {
                    return _failures.Count;
                }
            }
        }

        /// <summary>Counts a call: done when <paramref name="failure"/> is null, else failed with why.</summary>
        public void Count(string? failure)
        {
            if (failure is null)
            {
                Interlocked.Increment(ref _done);
                return;
            }

            lock (_sync)
            {
                _failures.Add(failure);
            }
        }

        public SoakLoad Snapshot()
        {
            lock (_sync)
            {
                return new SoakLoad(name, Done, _failures.Count, [.. _failures.Take(5)]);
            }
        }
    }
}
