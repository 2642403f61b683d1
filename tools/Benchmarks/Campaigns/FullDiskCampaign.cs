using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the full-disk campaign runs.</summary>
/// <param name="Rounds">How many times the disk is filled and freed.</param>
/// <param name="DiskKib">Size of the meetings' file system (a tmpfs), in KiB.</param>
/// <param name="MinFreeKib">The daemon's <c>Meetings:MinFreeBytes</c>, in KiB.</param>
/// <param name="WorkDirectory">Where the daemon's working directory and the tmpfs mount point go.</param>
internal sealed record FullDiskSettings(int Rounds, int DiskKib, int MinFreeKib, string WorkDirectory);

/// <summary>What the campaign found; each count of rounds must equal the rounds run.</summary>
/// <param name="Rounds">Rounds run: the disk filled by two meetings, then freed by deleting one.</param>
/// <param name="FramesSent">Frames the meetings published.</param>
/// <param name="FramesAccepted">Frames journaled, in all meetings (the deleted ones counted before their delete).</param>
/// <param name="FramesRefused">Frames refused for storage while the disk was full (counted by the daemon); with the accepted ones, every frame sent.</param>
/// <param name="StartsRefusedFull">Rounds in which a new meeting, asked while the disk was full, got <c>storage_full</c>.</param>
/// <param name="StopsRefusedFull">Rounds in which a stop, asked while the disk was full, got <c>storage_full</c> and left the meeting recording.</param>
/// <param name="HealthSaidFull">Rounds in which health's <c>storage</c> check was degraded, naming the full disk.</param>
/// <param name="JournalsChecked">Audio journals read by the campaign, through the daemon's mount namespace, while the disk was full and after the meeting completed.</param>
/// <param name="JournalsDamaged">Of those, journals with a torn or corrupt record, or fewer whole records than the daemon's accepted count (must be 0).</param>
/// <param name="Recovered">Rounds in which, after the delete, the meeting took every new frame, health was ok again and a new meeting started.</param>
/// <param name="Completed">Rounds whose meeting completed with every frame sent accepted or reported missing.</param>
/// <param name="Recoveries">Time from the delete's reply to the meeting taking frames again.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record FullDiskReport(
    int Rounds,
    long FramesSent,
    long FramesAccepted,
    long FramesRefused,
    int StartsRefusedFull,
    int StopsRefusedFull,
    int HealthSaidFull,
    int JournalsChecked,
    int JournalsDamaged,
    int Recovered,
    int Completed,
    IReadOnlyList<TimeSpan> Recoveries,
    string? Failure)
{
    /// <summary>Every check held in every round, every frame sent was accepted or counted refused, and no journal was damaged.</summary>
    public bool Passed(int rounds) =>
        Failure is null && Rounds == rounds && JournalsDamaged == 0 && FramesRefused > 0 && FramesAccepted + FramesRefused == FramesSent
        && new[] { StartsRefusedFull, StopsRefusedFull, HealthSaidFull, Recovered, Completed }.All(count => count == rounds);
}

/// <summary>
/// The full-disk campaign: the daemon keeps its meetings on a small tmpfs in a mount namespace of its own. Each round
/// two meetings stream 120 ms PCM frames until the disk is full; then a new meeting must get <c>storage_full</c>, a
/// stop must get <c>storage_full</c> and leave its meeting recording, health must say the disk is full, and every
/// journal on the disk must hold exactly the frames the daemon accepted, whole. One meeting is deleted (as a user
/// frees space); the other must take frames again, health must be ok, a new meeting must start, and the meeting must
/// stop and complete with every frame sent accepted or reported missing. Bounded: the rounds given, and a frame
/// budget of twice the disk per round.
/// </summary>
internal static class FullDiskCampaign
{
    private const string DeviceId = "full-hub";
    private const int FrameBytes = 3840; // 120 ms of 16 kHz s16le, the longest PCM frame the contract takes
    private const int FramesAfterFree = 20;
    private static readonly TimeSpan FramePace = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan AccountTimeout = TimeSpan.FromSeconds(20);

    public static async Task<FullDiskReport> RunAsync(FullDiskSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.IngestOnly(vadModel: null, capacity: 16), settings.WorkDirectory, "full-profile");
        var mountPoint = Directory.CreateDirectory(Path.Combine(settings.WorkDirectory, "disk")).FullName;
        await using var daemon = await BenchDaemon.StartAsync(
            profilePath,
            DeviceId,
            Path.Combine(settings.WorkDirectory, "full-daemon"),
            TimeSpan.FromSeconds(60),
            cancellationToken,
            extraArgs: [$"--Meetings:Root={mountPoint}/meetings", string.Create(CultureInfo.InvariantCulture, $"--Meetings:MinFreeBytes={settings.MinFreeKib * 1024L}")],
            launcher: BenchDaemon.InMountNamespace(string.Create(CultureInfo.InvariantCulture, $"mount -t tmpfs -o size={settings.DiskKib}k tmpfs '{mountPoint}'"))).ConfigureAwait(false);
        progress(string.Create(CultureInfo.InvariantCulture, $"full disk: the daemon's meetings on a {settings.DiskKib} KiB tmpfs at {mountPoint} (its own mount namespace)"));
        await using var client = await daemon.ConnectAsync(cancellationToken).ConfigureAwait(false);
        var run = new Round(client, Path.Combine($"/proc/{daemon.ProcessId.ToString(CultureInfo.InvariantCulture)}/root", mountPoint.TrimStart('/'), "meetings"), settings, cancellationToken);
        string? failure = null;
        var rounds = 0;
        try
        {
            for (var round = 1; round <= settings.Rounds; round++)
            {
                await run.RunAsync(round).ConfigureAwait(false);
                rounds = round;
                progress(string.Create(CultureInfo.InvariantCulture, $"full disk: round {round} of {settings.Rounds}; {run.Refused} frames refused while full so far, damaged journals {run.JournalsDamaged}"));
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or ApplianceClientException or IOException or UnauthorizedAccessException)
        {
            failure = $"round {rounds + 1}: {ex.Message}{(daemon.ExitDescription is { } exit ? "; " + exit : "")}";
        }

        return new FullDiskReport(rounds, run.Sent, run.Accepted, run.Refused, run.StartsRefusedFull, run.StopsRefusedFull, run.HealthSaidFull, run.JournalsChecked, run.JournalsDamaged, run.Recovered, run.Completed, run.Recoveries, failure);
    }

    /// <summary>One round after another on the same daemon, with the counts so far.</summary>
    private sealed class Round(ApplianceClient client, string diskMeetings, FullDiskSettings settings, CancellationToken cancellationToken)
    {
        private readonly Dictionary<string, long> _next = [];

        public long Sent { get; private set; }

        public long Accepted { get; private set; }

        public long Refused { get; private set; }

        public int StartsRefusedFull { get; private set; }

        public int StopsRefusedFull { get; private set; }

        public int HealthSaidFull { get; private set; }

        public int JournalsChecked { get; private set; }

        public int JournalsDamaged { get; private set; }

        public int Recovered { get; private set; }

        public int Completed { get; private set; }

        public List<TimeSpan> Recoveries { get; } = [];

        public async Task RunAsync(int round)
        {
            var live = Name("live", round);
            var ballast = Name("ballast", round);
            var extra = Name("extra", round);
            await ExpectAsync(StartAsync(live), null, $"{live} did not start").ConfigureAwait(false);
            await ExpectAsync(StartAsync(ballast), null, $"{ballast} did not start").ConfigureAwait(false);

            // Fill: both meetings stream until each has frames refused, then a few more.
            var budget = 2L * settings.DiskKib * 1024 / FrameBytes;
            while ((await CountersAsync(live).ConfigureAwait(false)).StorageRefused == 0 || (await CountersAsync(ballast).ConfigureAwait(false)).StorageRefused == 0)
            {
                if (_next[live] > budget)
                {
                    throw new InvalidOperationException($"the disk did not fill within {budget} frames a meeting");
                }

                await SendAsync([live, ballast], 10).ConfigureAwait(false);
            }

            await SendAsync([live, ballast], 5).ConfigureAwait(false);

            // While full.
            var extraStart = await StartAsync(extra).ConfigureAwait(false);
            StartsRefusedFull += extraStart.Error?.Code == RpcErrorCodes.StorageFull ? 1 : 0;
            var stop = await StopAsync(live).ConfigureAwait(false);
            var liveState = (await GetAsync(live).ConfigureAwait(false)).State;
            StopsRefusedFull += stop.Error?.Code == RpcErrorCodes.StorageFull && liveState == MeetingState.Open ? 1 : 0;
            var storage = await StorageCheckAsync().ConfigureAwait(false);
            HealthSaidFull += storage.Status == HealthStatus.Degraded && storage.Detail?.Contains("No space left on device", StringComparison.Ordinal) == true ? 1 : 0;
            await CheckJournalAsync(live).ConfigureAwait(false);
            await CheckJournalAsync(ballast).ConfigureAwait(false);

            // Free space as a user does, by deleting a meeting; the other one goes on.
            var deleted = await CountersAsync(ballast).ConfigureAwait(false);
            Accepted += deleted.Accepted;
            Refused += deleted.StorageRefused;
            await DeleteAsync(ballast).ConfigureAwait(false);
            var freedAt = Stopwatch.GetTimestamp();
            var before = (await CountersAsync(live).ConfigureAwait(false)).Accepted;
            await SendAsync([live], FramesAfterFree).ConfigureAwait(false);
            Recoveries.Add(Stopwatch.GetElapsedTime(freedAt));
            var after = (await CountersAsync(live).ConfigureAwait(false)).Accepted;
            var healthAfter = await StorageCheckAsync().ConfigureAwait(false);
            var extraAfter = await StartAsync(extra).ConfigureAwait(false);
            Recovered += after - before == FramesAfterFree && healthAfter.Status == HealthStatus.Ok && extraAfter.Error is null ? 1 : 0;
            await DeleteAsync(extra).ConfigureAwait(false);

            // The meeting ends: every frame it sent is accepted or reported missing, and its journal is whole.
            await ExpectAsync(StopAsync(live), null, $"{live} did not stop after the disk was freed").ConfigureAwait(false);
            var ended = await WaitCompletedAsync(live).ConfigureAwait(false);
            var gaps = ended.Gaps.Sum(g => g.Count);
            Completed += ended.Counters.Accepted + gaps == _next[live] ? 1 : 0;
            await CheckJournalAsync(live).ConfigureAwait(false);
            Accepted += ended.Counters.Accepted;
            Refused += ended.Counters.StorageRefused;
            await DeleteAsync(live).ConfigureAwait(false);
        }

        private static string Name(string role, int round) => string.Create(CultureInfo.InvariantCulture, $"{role}-{round:D3}");

        private Task<RpcResult<MeetingControlResult>> StartAsync(string session)
        {
            _next.TryAdd(session, 0);
            return client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 }, cancellationToken: cancellationToken);
        }

        private Task<RpcResult<MeetingControlResult>> StopAsync(string session) =>
            client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = session, LastSequence = _next[session] - 1 }, cancellationToken: cancellationToken);

        private async Task DeleteAsync(string session)
        {
            if (await MeetingRecord.DeleteAsync(client, session, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                throw new InvalidOperationException(problem);
            }
        }

        private static async Task ExpectAsync(Task<RpcResult<MeetingControlResult>> call, string? code, string what)
        {
            var reply = await call.ConfigureAwait(false);
            if (reply.Error?.Code != code)
            {
                throw new InvalidOperationException($"{what}: {reply.Error?.Code ?? "ok"}: {reply.Error?.Message}");
            }
        }

        private async Task<MeetingInfo> GetAsync(string session)
        {
            var reply = await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Value?.Meeting ?? throw new InvalidOperationException($"meetings.get {session}: {reply.Error?.Code}: {reply.Error?.Message}");
        }

        private async Task<MeetingCounters> CountersAsync(string session) => (await GetAsync(session).ConfigureAwait(false)).Counters;

        private async Task<HealthCheck> StorageCheckAsync()
        {
            var reply = await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams(), cancellationToken: cancellationToken).ConfigureAwait(false);
            return reply.Value?.Checks["storage"] ?? throw new InvalidOperationException($"health.get: {reply.Error?.Code}: {reply.Error?.Message}");
        }

        /// <summary>Publishes <paramref name="frames"/> frames of each meeting, paced, and waits until the daemon has accepted or refused every one.</summary>
        private async Task SendAsync(string[] sessions, int frames)
        {
            var payload = new byte[FrameBytes];
            var pace = Stopwatch.StartNew();
            for (var k = 0; k < frames; k++)
            {
                foreach (var session in sessions)
                {
                    await client.PublishAsync(MeetingAudioFrame.Create(DeviceId, session, _next[session]++, AudioCodecs.PcmS16LE, payload), cancellationToken).ConfigureAwait(false);
                    Sent++;
                }

                if ((FramePace * (k + 1)) - pace.Elapsed is { } wait && wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }
            }

            var waited = Stopwatch.StartNew();
            foreach (var session in sessions)
            {
                while (await CountersAsync(session).ConfigureAwait(false) is var counters && counters.Accepted + counters.StorageRefused < _next[session])
                {
                    if (waited.Elapsed > AccountTimeout)
                    {
                        throw new TimeoutException($"{session}: {_next[session] - counters.Accepted - counters.StorageRefused} frames neither accepted nor refused after {AccountTimeout.TotalSeconds:0} s");
                    }

                    await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        private async Task<MeetingInfo> WaitCompletedAsync(string session)
        {
            var waited = Stopwatch.StartNew();
            while (await GetAsync(session).ConfigureAwait(false) is var meeting && meeting.State != MeetingState.Completed)
            {
                if (waited.Elapsed > AccountTimeout)
                {
                    throw new TimeoutException($"{session} did not complete within {AccountTimeout.TotalSeconds:0} s: {meeting.State}");
                }

                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }

            return await GetAsync(session).ConfigureAwait(false);
        }

        /// <summary>Reads the meeting's audio journal on the daemon's disk: it must end on a whole record and hold every frame the daemon accepted.</summary>
        private async Task CheckJournalAsync(string session)
        {
            var accepted = (await CountersAsync(session).ConfigureAwait(false)).Accepted;
            var path = Path.Combine(diskMeetings, session, "audio.journal");
            var ends = JournalFile.RecordEnds(path);
            JournalsChecked++;
            if (ends.Count != accepted || new FileInfo(path).Length != (ends.Count > 0 ? ends[^1] : 8))
            {
                JournalsDamaged++;
            }
        }
    }
}
