using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.ModelForge.Llm;
using Appliance.Ota;
using Appliance.OtaTool;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>What the OTA power-cut campaign runs.</summary>
/// <param name="Cycles">Updates started, each cut by a SIGKILL aimed at one stage chosen at random (download, install, smoke test, switch, health window after the restart), at a random moment in it.</param>
/// <param name="TruncateShare">The share of kills after which the file written last under the OTA folder is also cut at a random length, as a torn write would leave it.</param>
/// <param name="MirrorBytesPerSecond">The repository server's rate for model files, so that downloads last long enough to be cut.</param>
/// <param name="Seed">Seed of the kill moments and truncations.</param>
/// <param name="WorkDirectory">Where the models, the repository and the daemon's folders go.</param>
internal sealed record OtaPowerCutSettings(int Cycles, double TruncateShare, double MirrorBytesPerSecond, int Seed, string WorkDirectory);

/// <summary>What the campaign found.</summary>
/// <param name="Cycles">Cycles run.</param>
/// <param name="KillsByStage">Kills by the last stage the daemon logged before each (<c>restarted</c>: after the switch's restart, in the health window).</param>
/// <param name="Truncations">Files cut after a kill.</param>
/// <param name="Unusable">Restarts after which the daemon had no working model set (its voice model not loaded, or a chat failing): must be 0.</param>
/// <param name="Rollbacks">Rollbacks the daemon made at a start (crash loops, damaged slots).</param>
/// <param name="InHealthWindow">Restarts that found a switch in its health window (the check's chat then passes it).</param>
/// <param name="Recoveries">Time from each kill to the restarted daemon's ready line.</param>
/// <param name="Failure">Why the campaign stopped early, or null.</param>
internal sealed record OtaPowerCutReport(int Cycles, IReadOnlyDictionary<string, int> KillsByStage, int Truncations, int Unusable, int Rollbacks, int InHealthWindow, IReadOnlyList<TimeSpan> Recoveries, string? Failure)
{
    public bool Passed(int cycles) => Failure is null && Unusable == 0 && Cycles == cycles;
}

/// <summary>
/// The OTA power-cut campaign: a daemon updates its voice model from a local repository, again and again, and each
/// update is cut by a SIGKILL at a random moment of a stage chosen at random; after some kills the file written last is also cut short. After each
/// restart the daemon must run a working, verified model set: its voice model loaded and answering a chat. Bounded: the
/// cycles given, and 60 s for each wait.
/// </summary>
internal static partial class OtaPowerCutCampaign
{
    private const string DeviceId = "ota-cut";

    /// <summary>The stages a kill is aimed at, as the daemon logs them ("Update {stage}: …"); <c>restarted</c> is after the switch's restart, in the health window.</summary>
    private static readonly string[] KillStages = [OtaStageNames.Downloading, OtaStageNames.Installing, OtaStageNames.SmokeTest, OtaStageNames.HealthWindow, "restarted"];
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    public static async Task<OtaPowerCutReport> RunAsync(OtaPowerCutSettings settings, Action<string> progress, CancellationToken cancellationToken)
    {
        var work = settings.WorkDirectory;
        var models = Path.Combine(work, "models");
        var initial = Path.Combine(models, "tiny-voice");
        string[] variants = [Path.Combine(models, "variant-a"), Path.Combine(models, "variant-b")];
        LlmForge.Write(LlmPreset.Tiny, 42, initial);
        LlmForge.Write(LlmPreset.Tiny, 7, variants[0]);
        LlmForge.Write(LlmPreset.Tiny, 8, variants[1]);
        var profile = BenchProfiles.DevX64();
        profile["models"] = new System.Text.Json.Nodes.JsonObject { ["voiceLlm"] = new System.Text.Json.Nodes.JsonObject { ["id"] = "tiny-voice", ["path"] = initial, ["contextTokens"] = 512 } };
        var profilePath = BenchProfiles.Write(profile, work, "ota-profile");

        var repository = new OtaRepository(Path.Combine(work, "repo"), TimeProvider.System);
        using var keys = new KeySet();
        repository.Init(keys.RoleKeys(), keys.All);
        await using var server = await RepositoryServer.StartAsync(repository.Directory, IPAddress.Loopback, 0, Throttle(settings.MirrorBytesPerSecond)).ConfigureAwait(false);
        string[] args =
        [
            $"--Ota:Repository={server.Address}", $"--Ota:InitialRoot={Path.Combine(repository.Directory, Roles.RootFileName(1))}", $"--Ota:Root={Path.Combine(work, "ota")}",
            "--Ota:HealthWindowRequests=1", "--Ota:CheckIntervalMinutes=0", "--Ota:MinBytesPerSecond=1024", "--Ota:SpeedWindowSeconds=30",
        ];
        var daemonFolder = Path.Combine(work, "daemon");
        var random = new Random(settings.Seed);
        var stages = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var recoveries = new List<TimeSpan>();
        int truncations = 0, unusable = 0, rollbacks = 0, inHealthWindow = 0;
        string? failure = null;
        var daemon = await StartAsync(profilePath, daemonFolder, args, cancellationToken).ConfigureAwait(false);
        try
        {
            for (var cycle = 1; cycle <= settings.Cycles; cycle++)
            {
                var release = cycle + 1;
                var variant = variants[cycle % 2];
                File.WriteAllText(Path.Combine(variant, "release.txt"), release.ToString(CultureInfo.InvariantCulture)); // every release's bytes differ
                var (path, file) = repository.Pack(variant, new ModelTarget { Feature = OtaFeatures.VoiceLlm, ModelId = $"tiny-voice-r{release}", Release = release });
                var targets = repository.Targets;
                repository.Publish(targets with
                {
                    Targets = new Dictionary<string, TargetFile>(targets.Targets) { [path] = file },
                    Bundles = new Dictionary<string, Bundle> { ["bench"] = new Bundle { Release = release, Targets = [path] } },
                }, keys.All);

                // The kill: aimed at one stage, chosen at random, and a random moment inside it.
                var target = KillStages[random.Next(KillStages.Length)];
                var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                void OnLine(string line)
                {
                    if (UpdateLine().Match(line) is { Success: true } match && match.Groups[1].Value == target)
                    {
                        reached.TrySetResult();
                    }
                }

                daemon.Line += OnLine;
                await using (var client = await daemon.ConnectAsync(cancellationToken).ConfigureAwait(false))
                {
                    var started = await client.InvokeAsync(RpcMethods.OtaUpdate, new OtaBundleParams(), cancellationToken: cancellationToken).ConfigureAwait(false);
                    if (started.Error is { } error)
                    {
                        failure = $"cycle {cycle}: ota.update answered {error.Code}: {error.Message}";
                        break;
                    }
                }

                var exited = daemon.WaitForExitAsync(cancellationToken);
                await Task.WhenAny(reached.Task, exited, Task.Delay(Wait, cancellationToken)).ConfigureAwait(false);
                if (reached.Task.IsCompleted)
                {
                    await Task.WhenAny(exited, Task.Delay(Jitter(target, random), cancellationToken)).ConfigureAwait(false);
                }

                var stage = LastUpdateLine(daemon) is { } last ? UpdateLine().Match(last).Groups[1].Value : "requested";
                if (daemon.HasExited)
                {
                    // Switched and stopped to restart: the service manager starts it again, and the kill lands in the health window.
                    if (daemon.ExitCode != 75)
                    {
                        failure = $"cycle {cycle}: {daemon.ExitDescription}";
                        break;
                    }

                    await daemon.DisposeAsync().ConfigureAwait(false);
                    daemon = await StartAsync(profilePath, daemonFolder, args, cancellationToken).ConfigureAwait(false);
                    await Task.Delay(Jitter("restarted", random), cancellationToken).ConfigureAwait(false);
                    stage = "restarted";
                }

                if (failure is not null)
                {
                    break;
                }

                stages[stage] = stages.GetValueOrDefault(stage) + 1;
                var killedAt = Stopwatch.GetTimestamp();
                await daemon.DisposeAsync().ConfigureAwait(false); // SIGKILL
                if (random.NextDouble() < settings.TruncateShare && TruncateNewest(Path.Combine(work, "ota"), random))
                {
                    truncations++;
                }

                daemon = await StartAsync(profilePath, daemonFolder, args, cancellationToken).ConfigureAwait(false);
                recoveries.Add(Stopwatch.GetElapsedTime(killedAt));
                rollbacks += daemon.Problems.Count(p => p.Contains("Rolled back to the previous models at start", StringComparison.Ordinal));
                var (working, why, inWindow) = await WorkingAsync(daemon, cancellationToken).ConfigureAwait(false);
                if (!working)
                {
                    unusable++;
                    progress($"cycle {cycle}: no working model set after the kill in stage {stage}: {why}");
                }

                inHealthWindow += inWindow ? 1 : 0;
                if (cycle % 10 == 0 || cycle == settings.Cycles)
                {
                    progress(string.Create(CultureInfo.InvariantCulture, $"ota power cuts: {cycle} of {settings.Cycles}; without a working model set {unusable}, rollbacks at start {rollbacks}"));
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            failure = $"{e.Message} ({daemon.ExitDescription ?? string.Join(" | ", daemon.Tail.TakeLast(6))})";
        }
        finally
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        return new OtaPowerCutReport(recoveries.Count, stages, truncations, unusable, rollbacks, inHealthWindow, recoveries, failure);
    }

    /// <summary>Whether the daemon runs a working model set: its voice model loaded, and a chat on it answered. The chat also serves the health window of a fresh switch.</summary>
    private static async Task<(bool Working, string? Why, bool InWindow)> WorkingAsync(BenchDaemon daemon, CancellationToken cancellationToken)
    {
        await using var client = await daemon.ConnectAsync(cancellationToken).ConfigureAwait(false);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(Wait);
        StatusDocument? status = null;
        try
        {
            await foreach (var message in client.ObserveAsync(Topics.Status(DeviceId), limit.Token).ConfigureAwait(false))
            {
                status = message.Deserialize<StatusDocument>();
                if (status?.Models?.FirstOrDefault(m => m.Feature == ModelFeatures.VoiceLlm) is { State: ModelStates.Loaded or ModelStates.Failed })
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, "the voice model did not finish loading within 60 s", false);
        }

        var voice = status!.Models!.First(m => m.Feature == ModelFeatures.VoiceLlm);
        if (voice.State != ModelStates.Loaded)
        {
            return (false, $"voice model {voice.Id} failed: {voice.Error}", false);
        }

        var reply = await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Hello")], MaxTokens = 2, Temperature = 0 }, cancellationToken: cancellationToken).ConfigureAwait(false);
        if (reply.Error is { } error)
        {
            return (false, $"llm.chat answered {error.Code}: {error.Message}", false);
        }

        if (status.Ota?.HealthWindow is null)
        {
            return (true, null, false);
        }

        // The chat passes the health window (Ota:HealthWindowRequests=1); the next update waits for its end.
        await foreach (var message in client.ObserveAsync(Topics.Status(DeviceId), limit.Token).ConfigureAwait(false))
        {
            if (message.Deserialize<StatusDocument>() is { Ota.HealthWindow: null })
            {
                break;
            }
        }

        return (true, null, true);
    }

    private static Task<BenchDaemon> StartAsync(string profile, string folder, string[] args, CancellationToken cancellationToken) =>
        BenchDaemon.StartAsync(profile, DeviceId, folder, Wait, cancellationToken, extraArgs: args);

    /// <summary>How long after a stage begins its kill comes: anywhere in a download (about a second at the campaign's rate), within the first 30 ms of the short stages.</summary>
    private static TimeSpan Jitter(string stage, Random random) => TimeSpan.FromMilliseconds(random.NextDouble() * (stage is OtaStageNames.Downloading or "restarted" ? 1000 : 30));

    /// <summary>The last "Update {stage}: …" line the daemon logged (with its time stamp), or null.</summary>
    private static string? LastUpdateLine(BenchDaemon daemon) => daemon.Tail.LastOrDefault(l => UpdateLine().IsMatch(l));

    /// <summary>Cuts the most recently written file under <paramref name="folder"/> at a random length below its own.</summary>
    private static bool TruncateNewest(string folder, Random random)
    {
        var newest = Directory.Exists(folder)
            ? new DirectoryInfo(folder).EnumerateFiles("*", SearchOption.AllDirectories).Where(f => f.Length > 0).MaxBy(f => f.LastWriteTimeUtc)
            : null;
        if (newest is null)
        {
            return false;
        }

        using var stream = newest.Open(FileMode.Open, FileAccess.Write);
        stream.SetLength(random.NextInt64(newest.Length));
        return true;
    }

    /// <summary>Serves model files at <paramref name="bytesPerSecond"/>; metadata at full speed.</summary>
    private static Func<HttpListenerContext, Func<Stream?, Task>, Task> Throttle(double bytesPerSecond) => (context, serve) =>
        serve(context.Request.Url!.AbsolutePath.StartsWith("/targets/", StringComparison.Ordinal) ? new ThrottledStream(context.Response.OutputStream, bytesPerSecond) : null);

    [GeneratedRegex(@"Update (\w+): bundle")]
    private static partial Regex UpdateLine();

    /// <summary>Four fresh signing keys, one per role, threshold 1.</summary>
    private sealed class KeySet : IDisposable
    {
        private readonly Dictionary<string, SigningKey> _keys = new[] { Roles.Root, Roles.Targets, Roles.Snapshot, Roles.Timestamp }.ToDictionary(r => r, _ => SigningKey.Generate());

        public IReadOnlyCollection<SigningKey> All => _keys.Values;

        public Dictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> RoleKeys() =>
            _keys.ToDictionary(k => k.Key, k => ((IReadOnlyList<KeyEntry>)[k.Value.Public], 1));

        public void Dispose()
        {
            foreach (var key in _keys.Values)
            {
                key.Dispose();
            }
        }
    }

    /// <summary>A response body that writes at most a given rate, in chunks of 16 KiB.</summary>
    private sealed class ThrottledStream(Stream inner, double bytesPerSecond) : Stream
    {
        private const int Chunk = 16 * 1024;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            for (var offset = 0; offset < buffer.Length; offset += Chunk)
            {
                var part = buffer.Slice(offset, Math.Min(Chunk, buffer.Length - offset));
                await inner.WriteAsync(part, cancellationToken).ConfigureAwait(false);
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
                await Task.Delay(TimeSpan.FromSeconds(part.Length / bytesPerSecond), cancellationToken).ConfigureAwait(false);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
