using System.Diagnostics;
using System.Globalization;
using Appliance.Benchmarks.Fleet;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the torn-write campaign runs.</summary>
/// <param name="Rounds">How many times the daemon is killed and its files damaged.</param>
/// <param name="Meetings">Meetings streaming between the faults, each 16 kHz PCM in 20 ms frames, in real time.</param>
/// <param name="MinRun">Shortest time the daemon runs (after it is ready) before a kill.</param>
/// <param name="MaxRun">Longest time; each kill comes at a random moment between the two.</param>
/// <param name="TailBytes">The damage starts within this many bytes of a file's end.</param>
/// <param name="Seed">Seed of the kill moments and of the damage.</param>
/// <param name="WorkDirectory">Where the broker's configuration and the daemon's working directory (its journals) go.</param>
internal sealed record TornWriteSettings(int Rounds, int Meetings, TimeSpan MinRun, TimeSpan MaxRun, long TailBytes, int Seed, string WorkDirectory);

/// <summary>What the campaign found.</summary>
/// <param name="Rounds">Kills made, each followed by damage to one file of every meeting.</param>
/// <param name="Damaged">Files damaged, by name (<c>audio.journal</c>, <c>state.json</c>…).</param>
/// <param name="FramesSent">Frames the meetings published, all meetings.</param>
/// <param name="FramesAccepted">Frames journaled at the end, from <c>meetings.get</c> after the last stop.</param>
/// <param name="GapFrames">Frames reported missing at the end: those sent while the daemon was down, and those cut with a damaged tail.</param>
/// <param name="RecordsDropped">Audio records after the damage, dropped at restart.</param>
/// <param name="RecordsLost">Audio records wholly before the damage that a restart did not keep (must be 0).</param>
/// <param name="DamagedKept">Audio records at or after the damage that a restart kept (must be 0).</param>
/// <param name="Unreported">Damage the journal format can detect that the restarted daemon did not log (must be 0).</param>
/// <param name="StateRestored">State-file copies the daemon restored from the other copy, as it logged.</param>
/// <param name="Recoveries">Time from each restart to the daemon's ready line.</param>
/// <param name="Completed">Meetings that completed after the last stop.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record TornWriteReport(
    int Rounds,
    IReadOnlyDictionary<string, int> Damaged,
    long FramesSent,
    long FramesAccepted,
    long GapFrames,
    long RecordsDropped,
    long RecordsLost,
    long DamagedKept,
    int Unreported,
    int StateRestored,
    IReadOnlyList<TimeSpan> Recoveries,
    int Completed,
    string? Failure)
{
    /// <summary>Every record before the damage kept, none after it, every detectable damage logged, every frame accounted for, every meeting completed.</summary>
    public bool Passed(int meetings) => Failure is null && RecordsLost == 0 && DamagedKept == 0 && Unreported == 0 && Completed == meetings && FramesAccepted + GapFrames == FramesSent;
}

/// <summary>
/// The torn-write campaign: meetings stream into a daemon on an external Mosquitto; the daemon is killed at a random
/// moment, and while it is down one file of every meeting (its audio or transcript journal, or either copy of its
/// state) is cut short or overwritten with garbage at a random offset near its end. The campaign reads the audio
/// journal itself before the damage, so it knows which records lie wholly before it; after the restart each meeting
/// must have kept exactly those, and the daemon must have logged every damage the format can detect. The meetings
/// pause while the daemon is down, so the counts are exact. At the end every meeting stops and must complete, with
/// every frame sent accepted or reported missing. Bounded: the rounds given, and 60 s for each restart.
/// </summary>
internal static class TornWriteCampaign
{
    private static readonly string[] SessionFiles = ["audio.journal", "transcript.journal", "state.json", "state.copy.json"];
    private const int MaxOverwrite = 512;

    public static async Task<TornWriteReport> RunAsync(TornWriteSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.IngestOnly(vadModel: null, capacity: Math.Max(16, settings.Meetings)), settings.WorkDirectory, "torn-profile");
        var daemonFolder = Path.Combine(settings.WorkDirectory, "torn-daemon");
        var meetingsRoot = Path.Combine(daemonFolder, "meetings");
        await using var broker = await BenchMosquitto.StartAsync(settings.WorkDirectory).ConfigureAwait(false);
        progress($"torn writes: Mosquitto {broker.Version} on 127.0.0.1:{broker.Port}");
        var daemon = await KillCampaign.StartDaemonAsync(profilePath, daemonFolder, broker.Port, cancellationToken).ConfigureAwait(false);
        var sessions = Enumerable.Range(0, settings.Meetings).Select(i => string.Create(CultureInfo.InvariantCulture, $"torn-{i:D2}")).ToArray();
        var next = new long[settings.Meetings];
        var recoveries = new List<TimeSpan>();
        var damaged = SessionFiles.ToDictionary(f => f, _ => 0);
        long dropped = 0, lost = 0, kept = 0;
        int unreported = 0, restored = 0, rounds = 0;
        string? failure = null;
        var random = new Random(settings.Seed);
        await using var earbuds = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = KillCampaign.DeviceId, DefaultTimeout = TimeSpan.FromSeconds(20) }, cancellationToken).ConfigureAwait(false);
        try
        {
            if (await CampaignMeetings.StartAsync(earbuds, sessions, cancellationToken).ConfigureAwait(false) is { } problem)
            {
                return Failed(problem);
            }

            for (var round = 1; round <= settings.Rounds; round++)
            {
                using (var streaming = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    var sender = CampaignMeetings.SendAsync(message => earbuds.PublishAsync(message, CancellationToken.None), KillCampaign.DeviceId, sessions, next, streaming.Token);
                    await Task.Delay(CampaignMeetings.Between(random, settings.MinRun, settings.MaxRun), cancellationToken).ConfigureAwait(false);
                    await daemon.DisposeAsync().ConfigureAwait(false); // SIGKILL, mid-stream
                    await streaming.CancelAsync().ConfigureAwait(false);
                    await sender.ConfigureAwait(false);
                }

                var expected = new long[sessions.Length];
                var damages = new Damage[sessions.Length];
                var detectable = new bool[sessions.Length];
                for (var i = 0; i < sessions.Length; i++)
                {
                    var folder = Path.Combine(meetingsRoot, sessions[i]);
                    var audioEnds = JournalFile.RecordEnds(Path.Combine(folder, "audio.journal"));
                    var candidates = SessionFiles.Where(f => new FileInfo(Path.Combine(folder, f)) is { Exists: true, Length: > 0 }).ToArray();
                    var target = candidates[random.Next(candidates.Length)];
                    var ends = target.EndsWith(".journal", StringComparison.Ordinal) ? JournalFile.RecordEnds(Path.Combine(folder, target)) : null;
                    var damage = JournalFile.Apply(Path.Combine(folder, target), random, settings.TailBytes, MaxOverwrite);
                    damaged[target]++;
                    damages[i] = damage;
                    expected[i] = target == "audio.journal" ? JournalFile.RecordsBefore(audioEnds, damage.Offset) : audioEnds.Count;
                    dropped += audioEnds.Count - expected[i];

                    // A journal cut exactly at a record's end (or to nothing) reads as a shorter journal: nothing to detect.
                    detectable[i] = ends is null || damage.Kind == DamageKind.Overwritten || !(damage.Offset is 0 or 8 || ends.Contains(damage.Offset));
                }

                var restartedAt = Stopwatch.GetTimestamp();
                daemon = await KillCampaign.StartDaemonAsync(profilePath, daemonFolder, broker.Port, cancellationToken).ConfigureAwait(false);
                recoveries.Add(Stopwatch.GetElapsedTime(restartedAt));
                rounds = round;
                var problems = daemon.Problems;
                restored += problems.Count(p => p.Contains("Meeting state file repaired at start-up", StringComparison.Ordinal));
                var accepted = await CampaignMeetings.AcceptedAsync(earbuds, sessions, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < sessions.Length; i++)
                {
                    lost += Math.Max(0, expected[i] - accepted[i]);
                    kept += Math.Max(0, accepted[i] - expected[i]);
                    if (detectable[i] && !problems.Any(p => p.Contains(ReportOf(sessions[i], damages[i].File), StringComparison.Ordinal)))
                    {
                        unreported++;
                        progress($"torn writes: round {round}: the damage to {sessions[i]}/{damages[i]} was not logged");
                    }
                }

                if (round % 10 == 0 || round == settings.Rounds)
                {
                    progress(string.Create(CultureInfo.InvariantCulture, $"torn writes: {round} of {settings.Rounds}; records lost {lost}, damaged records kept {kept}, damage not logged {unreported}"));
                }
            }
        }
        catch (Exception ex) when (CampaignMeetings.IsFault(ex) || ex is IOException)
        {
            failure = CampaignMeetings.Describe(ex, daemon);
        }

        try
        {
            var (acceptedAtEnd, gaps, completed, problem) = await CampaignMeetings.FinishAsync(earbuds, sessions, next, cancellationToken).ConfigureAwait(false);
            return new TornWriteReport(rounds, damaged, next.Sum(), acceptedAtEnd, gaps, dropped, lost, kept, unreported, restored, recoveries, completed, failure ?? problem);
        }
        finally
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        TornWriteReport Failed(string why) => new(rounds, damaged, next.Sum(), 0, 0, dropped, lost, kept, unreported, restored, recoveries, 0, why);
    }

    /// <summary>The start of the log line a restarted daemon writes for damage to <paramref name="file"/> of <paramref name="session"/> (events 6007 and 6008).</summary>
    private static string ReportOf(string session, string file) => file switch
    {
        "audio.journal" => $"Meeting {session}: its audio journal ended in",
        "transcript.journal" => $"Meeting {session}: its transcript journal ended in",
        _ => $"repaired at start-up: {session}: {file} ",
    };
}
