using System.Net;
using System.Text.Json.Nodes;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.ModelForge.Llm;
using Appliance.OtaTool;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Over-the-air updates as a technician runs them, with the real tool, a real HTTP repository server, a Mosquitto
/// broker, and daemons as their own processes (an update restarts the daemon; the test plays the service manager).
/// </summary>
public sealed class OtaTests(ForgedLlmFolders models, ITestOutputHelper testOutput) : IClassFixture<ForgedLlmFolders>, IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private readonly string _work = Directory.CreateTempSubdirectory("ota-flow-").FullName;

    [Fact]
    public async Task A_release_pushed_to_three_daemons_is_taken_by_the_two_it_is_for_and_refused_by_the_third_with_the_reason()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var kitchen = ProfileNamed("test-kitchen-hub");
        var devices = new Dictionary<string, string[]>
        {
            ["ota-d1"] = Args("ota-d1", models.Profile(), broker, server.Address, repo),
            ["ota-d2"] = Args("ota-d2", models.Profile(), broker, server.Address, repo),
            ["ota-d3"] = Args("ota-d3", kitchen, broker, server.Address, repo),
        };
        var running = devices.ToDictionary(d => d.Key, d => DaemonProcess.Start(d.Value));
        try
        {
            foreach (var daemon in running.Values)
            {
                await daemon.WaitReadyAsync(Limit);
            }

            var pushedAt = DateTimeOffset.UtcNow.AddSeconds(-1);
            // push asks each device first (ota.check): the third refuses, and push says why; the two others start.
            var (pushCode, pushed) = await CliAsync("push", "--host", broker.Host, "--port", $"{broker.Port}", "--device", "ota-d1", "ota-d2", "ota-d3", "--bundle", "kitchen");
            testOutput.WriteLine(pushed);
            Assert.Equal(1, pushCode);
            Assert.Contains("ota-d1: update started", pushed, StringComparison.Ordinal);
            Assert.Contains("ota-d2: update started", pushed, StringComparison.Ordinal);
            Assert.Contains("ota-d3: refused: incompatible: bundle kitchen: voiceLlm-tiny-r1-v2-r1.tar is for profile dev-x64; this device runs test-kitchen-hub", pushed, StringComparison.Ordinal);

            // The two compatible daemons switch and stop to come back on the new model (exit 75); the service manager (here the test) starts them again.
            foreach (var id in (string[])["ota-d1", "ota-d2"])
            {
                Assert.Equal(75, await running[id].WaitForExitAsync(Limit));
                Assert.Contains("Restarting into the models of bundle kitchen release 1", running[id].Output, StringComparison.Ordinal);
                await running[id].DisposeAsync();
                running[id] = DaemonProcess.Start(devices[id]);
                await running[id].WaitReadyAsync(Limit);
            }

            foreach (var id in (string[])["ota-d1", "ota-d2"])
            {
                await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = id });
                var status = await WaitForStatusAsync(client, s => s.Models?.Any(m => m.Id == "tiny-r1-v2" && m.State == ModelStates.Loaded) == true);
                Assert.Equal("kitchen", status.Ota?.Bundle);
                Assert.Equal(1, status.Ota?.Release);
                Assert.Equal(new OtaSlotInfo("voiceLlm", "a", "tiny-r1-v2", 1), Assert.Single(status.Ota!.Slots));

                // Served by the new model; this request also passes the health window (Ota:HealthWindowRequests=1).
                var replies = await client.StreamAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Hello")], MaxTokens = 4, Temperature = 0 }).ToListAsync();
                Assert.Equal("tiny-r1-v2", replies[0].Delta!.Value.GetProperty("model").GetString());
                Assert.Null(replies[^1].Error);
            }

            var (watchCode, watched) = await CliAsync("watch", "--host", broker.Host, "--port", $"{broker.Port}", "--device", "ota-d1", "ota-d2", "--until-done", "--timeout", "60", "--since", pushedAt.ToString("O"));
            testOutput.WriteLine(watched);
            Assert.Equal(0, watchCode);
            Assert.Contains("ota-d1: committed kitchen release 1", watched, StringComparison.Ordinal);
            Assert.Contains("ota-d2: committed kitchen release 1", watched, StringComparison.Ordinal);

            await using var third = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ota-d3" });
            var thirdStatus = await third.GetStatusAsync();
            Assert.Null(thirdStatus.Ota?.Bundle);
            Assert.Contains(thirdStatus.Models!, m => m.Id == "tiny-r1" && m.State == ModelStates.Loaded);
            Assert.False(running["ota-d3"].HasExited);
        }
        finally
        {
            foreach (var daemon in running.Values)
            {
                await daemon.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_release_that_kills_the_daemon_in_its_health_window_is_rolled_back_by_the_fourth_start_and_status_says_so()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var args = Args("ota-crash", models.Profile(), broker, server.Address, repo);
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ota-crash" });
        var daemon = DaemonProcess.Start(args);
        try
        {
            await daemon.WaitReadyAsync(Limit);
            Assert.Null((await client.InvokeAsync(RpcMethods.OtaUpdate, new OtaBundleParams())).Error);
            Assert.Equal(75, await daemon.WaitForExitAsync(Limit));

            // Three starts on the new model, each killed before the window passes (a crash, as a power cut or an OOM kill would be).
            for (var start = 1; start <= 3; start++)
            {
                await daemon.DisposeAsync();
                daemon = DaemonProcess.Start(args);
                await daemon.WaitReadyAsync(Limit);
                Assert.Equal(start, (await WaitForStatusAsync(client, s => s.Ota?.HealthWindow?.Starts == start)).Ota!.HealthWindow!.Starts);
                await daemon.KillAsync();
            }

            await daemon.DisposeAsync();
            daemon = DaemonProcess.Start(args);
            await daemon.WaitReadyAsync(Limit);
            var status = await WaitForStatusAsync(client, s => s.Ota?.LastRollback is not null && s.Models?.Any(m => m.Id == "tiny-r1" && m.State == ModelStates.Loaded) == true);
            Assert.Null(status.Ota!.Bundle);
            Assert.Empty(status.Ota.Slots);
            Assert.Equal("kitchen", status.Ota.LastRollback!.Bundle);
            Assert.StartsWith("crash loop: 4 starts within the health window", status.Ota.LastRollback.Reason, StringComparison.Ordinal);
            Assert.Contains("Rolled back to the previous models at start: crash loop", daemon.Output, StringComparison.Ordinal);

            // The release it left is not taken again.
            var check = await client.InvokeAsync(RpcMethods.OtaCheck, new OtaBundleParams());
            Assert.False(check.Value!.UpdateAvailable);
            Assert.Equal(OtaRefusalCodes.Rollback, check.Value.Refusal?.Code);
        }
        finally
        {
            await daemon.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_staged_rollout_over_ten_daemons_stops_at_its_abort_threshold_when_three_fail()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var plain = TestProfiles.Write(p => p["models"] = new JsonObject());
        var other = TestProfiles.Write(p =>
        {
            p["models"] = new JsonObject();
            p["name"] = "test-kitchen-hub";
        });

        // The three that fail (another profile: the release is not for them) come first, then seven it is for.
        string[] failing = ["roll-f1", "roll-f2", "roll-f3"];
        var fine = Enumerable.Range(1, 7).Select(i => $"roll-ok{i}").ToArray();
        var daemons = failing.Select(id => DaemonProcess.Start(Args(id, other, broker, server.Address, repo)))
            .Concat(fine.Select(id => DaemonProcess.Start(Args(id, plain, broker, server.Address, repo)))).ToList();
        try
        {
            foreach (var daemon in daemons)
            {
                await daemon.WaitReadyAsync(Limit);
            }

            var startedAt = DateTimeOffset.UtcNow.AddSeconds(-1);
            string[] rollout =
            [
                "rollout", "--host", broker.Host, "--port", $"{broker.Port}", "--device", .. failing, .. fine, "--bundle", "kitchen",
                "--rate-per-minute", "10", "--abort-failed-percent", "50", "--abort-min-devices", "3", "--in-progress-timeout-minutes", "1", "--timeout", "120",
            ];
            var (code, output) = await CliAsync(rollout);
            testOutput.WriteLine(output);

            Assert.Equal(3, code);
            Assert.Contains("rollout aborted: 3 of 3 executed devices failed (100 % > 50 %)", output, StringComparison.Ordinal);
            foreach (var id in failing)
            {
                Assert.Contains($"{id}: failed (refused: incompatible: bundle kitchen: voiceLlm-tiny-r1-v2-r1.tar is for profile dev-x64; this device runs test-kitchen-hub)", output, StringComparison.Ordinal);
            }

            // At 10 a minute the fourth device is due 18 s after the first; the three refusals come within a second or two of each request.
            foreach (var id in fine)
            {
                Assert.Contains($"{id}: not started (not told: the rollout was aborted)", output, StringComparison.Ordinal);
            }

            // watch shows the same: three refused with the reason, seven with no update (it gives up waiting for them: exit 5).
            string[] watch = ["watch", "--host", broker.Host, "--port", $"{broker.Port}", "--device", .. failing, .. fine, "--until-done", "--timeout", "3", "--since", startedAt.ToString("O")];
            var (watchCode, watched) = await CliAsync(watch);
            testOutput.WriteLine(watched);
            Assert.Equal(5, watchCode);
            Assert.Contains("roll-f2: refused kitchen release 1 (incompatible: bundle kitchen: voiceLlm-tiny-r1-v2-r1.tar is for profile dev-x64; this device runs test-kitchen-hub)", watched, StringComparison.Ordinal);
            Assert.Contains("roll-ok7: no update", watched, StringComparison.Ordinal);
            Assert.All(daemons, d => Assert.False(d.HasExited));
        }
        finally
        {
            foreach (var daemon in daemons)
            {
                await daemon.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_group_announcement_updates_the_group_and_a_requested_rollback_brings_the_previous_model_back()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        string[] ids = ["ota-g1", "ota-g2"];
        var args = ids.ToDictionary(id => id, id => (string[])[.. Args(id, models.Profile(), broker, server.Address, repo), "--Fleet:Group=kitchens"]);
        var running = ids.ToDictionary(id => id, id => DaemonProcess.Start(args[id]));
        try
        {
            foreach (var daemon in running.Values)
            {
                await daemon.WaitReadyAsync(Limit);
            }

            var (code, pushed) = await CliAsync("push", "--host", broker.Host, "--port", $"{broker.Port}", "--group", "kitchens", "--bundle", "kitchen", "--release", "1");
            Assert.True(code == 0, pushed);
            foreach (var id in ids)
            {
                Assert.Equal(75, await running[id].WaitForExitAsync(Limit));
                await running[id].DisposeAsync();
                running[id] = DaemonProcess.Start(args[id]);
                await running[id].WaitReadyAsync(Limit);
                await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = id });
                await WaitForStatusAsync(client, s => s.Models?.Any(m => m.Id == "tiny-r1-v2" && m.State == ModelStates.Loaded) == true);
                Assert.Null((await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Hello")], MaxTokens = 2 })).Error);
                await WaitForStatusAsync(client, s => s.Ota is { Bundle: "kitchen", HealthWindow: null });
            }

            // The technician asks the first one back: it answers, restarts on the profile's model, and says why.
            await using var first = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ota-g1" });
            var rolledBack = await first.InvokeAsync(RpcMethods.OtaRollback, new OtaRollbackParams { Reason = "wrong answers in the kitchen test" });
            Assert.Equal("requested: wrong answers in the kitchen test", rolledBack.Value!.LastRollback?.Reason);
            Assert.Equal(75, await running["ota-g1"].WaitForExitAsync(Limit));
            await running["ota-g1"].DisposeAsync();
            running["ota-g1"] = DaemonProcess.Start(args["ota-g1"]);
            await running["ota-g1"].WaitReadyAsync(Limit);
            var status = await WaitForStatusAsync(first, s => s.Models?.Any(m => m.Id == "tiny-r1" && m.State == ModelStates.Loaded) == true);
            Assert.Null(status.Ota!.Bundle);
            Assert.Equal(new OtaRollbackInfo("kitchen", 1, "requested: wrong answers in the kitchen test", status.Ota.LastRollback!.At), status.Ota.LastRollback);

            // Nothing to go back to now.
            var again = await first.InvokeAsync(RpcMethods.OtaRollback, new OtaRollbackParams());
            Assert.Equal(RpcErrorCodes.InvalidState, again.Error?.Code);
        }
        finally
        {
            foreach (var daemon in running.Values)
            {
                await daemon.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_release_whose_model_gives_other_tokens_on_the_device_than_at_packaging_is_never_switched_to()
    {
        await using var broker = await MosquittoBroker.StartPrivateAsync();
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        var model = Path.Combine(_work, "tiny-r1-v3");
        LlmForge.Write(LlmPreset.Tiny, 9, model);
        var repository = new Appliance.Ota.OtaRepository(repo, TimeProvider.System);
        var (path, file) = repository.Pack(model, new Appliance.Ota.ModelTarget
        {
            Feature = "voiceLlm", ModelId = "tiny-r1-v3", Release = 2,
            Smoke = new Appliance.Ota.SmokeExpectation { Prompt = "Hello", TokenIds = [1, 2, 3] },
        });
        var targets = repository.Targets;
        using (var targetsKey = Appliance.Ota.SigningKey.Load(Key("targets")))
        using (var snapshotKey = Appliance.Ota.SigningKey.Load(Key("snapshot")))
        using (var timestampKey = Appliance.Ota.SigningKey.Load(Key("timestamp")))
        {
            repository.Publish(targets with
            {
                Targets = new Dictionary<string, Appliance.Ota.TargetFile>(targets.Targets) { [path] = file },
                Bundles = new Dictionary<string, Appliance.Ota.Bundle> { ["kitchen"] = new() { Release = 2, Targets = [path] } },
            }, [targetsKey, snapshotKey, timestampKey]);
        }

        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        await using var daemon = DaemonProcess.Start(Args("ota-smoke", models.Profile(), broker, server.Address, repo));
        await daemon.WaitReadyAsync(Limit);
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ota-smoke" });
        var last = await UpdateUntilRefusedAsync(client);

        Assert.Equal(OtaRefusalCodes.SmokeTestFailed, last.Refusal?.Code);
        Assert.Contains("recorded at packaging 1 2 3; the running models stay", last.Refusal!.Message, StringComparison.Ordinal);
        var status = await client.GetStatusAsync();
        Assert.Null(status.Ota!.Bundle);
        Assert.Contains(status.Models!, m => m.Id == "tiny-r1" && m.State == ModelStates.Loaded);
        Assert.False(daemon.HasExited);
    }

    [Fact]
    public async Task Watch_follows_an_update_through_the_restart_of_the_daemons_embedded_broker()
    {
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var port = FreePort.Offered();
        string[] args =
        [
            $"--Mqtt:Broker:Port={port}", "--Device:Id=ota-embedded", $"--Profile={models.Profile()}", $"--Meetings:Root={Path.Combine(_work, "embedded-meetings")}",
            $"--Ota:Repository={server.Address}", $"--Ota:InitialRoot={Path.Combine(repo, "1.root.json")}", $"--Ota:Root={Path.Combine(_work, "embedded-ota")}", "--Ota:HealthWindowRequests=1",
        ];
        var daemon = DaemonProcess.Start(args);
        try
        {
            await daemon.WaitReadyAsync(Limit);
            var since = DateTimeOffset.UtcNow.AddSeconds(-1);
            var watching = CliAsync("watch", "--port", $"{port}", "--device", "ota-embedded", "--until-done", "--timeout", "90", "--since", since.ToString("O"));
            var (pushCode, pushed) = await CliAsync("push", "--port", $"{port}", "--device", "ota-embedded", "--bundle", "kitchen");
            Assert.True(pushCode == 0, pushed);

            // The switch stops the daemon, and its broker with it: watch's connection drops and the retained stages are gone.
            Assert.Equal(75, await daemon.WaitForExitAsync(Limit));
            await daemon.DisposeAsync();
            daemon = DaemonProcess.Start(args);
            await daemon.WaitReadyAsync(Limit);
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = "ota-embedded" });
            await WaitForStatusAsync(client, s => s.Models?.Any(m => m.Id == "tiny-r1-v2" && m.State == ModelStates.Loaded) == true);
            Assert.Null((await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Hello")], MaxTokens = 2 })).Error);

            var (watchCode, watched) = await watching;
            testOutput.WriteLine(watched);
            Assert.Equal(0, watchCode);
            Assert.Contains("ota-embedded: committed kitchen release 1", watched, StringComparison.Ordinal);
        }
        finally
        {
            await daemon.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_download_into_a_full_staging_area_is_refused_as_storage_full_and_the_daemon_serves_on()
    {
        var repo = await RepositoryWithReleaseAsync(profile: "dev-x64");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var mountPoint = Directory.CreateTempSubdirectory("appliance-ota-full-").FullName;
        var port = FreePort.Offered();
        try
        {
            // The OTA folder on a 128 KiB file system: the release's archive does not fit.
            await using var daemon = DaemonProcess.StartWithMounts(
                $"mount -t tmpfs -o size=128k tmpfs {mountPoint}",
                "--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", "--Device:Id=ota-full", $"--Profile={models.Profile()}",
                $"--Ota:Repository={server.Address}", $"--Ota:InitialRoot={Path.Combine(repo, "1.root.json")}", $"--Ota:Root={mountPoint}/ota", "--Ota:CheckIntervalMinutes=0");
            await daemon.WaitReadyAsync(Limit);
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = "ota-full" });
            var last = await UpdateUntilRefusedAsync(client);

            testOutput.WriteLine(daemon.Output);
            Assert.Equal(OtaRefusalCodes.StorageFull, last.Refusal?.Code);
            var status = await client.GetStatusAsync();
            Assert.Null(status.Ota!.Bundle);
            Assert.Contains(status.Models!, m => m.Id == "tiny-r1" && m.State == ModelStates.Loaded);
            Assert.Null((await client.CallAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Hello")], MaxTokens = 2 })).Error);
            Assert.False(daemon.HasExited);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    [Fact]
    public async Task The_schedule_checks_the_repository_once_an_interval_on_the_daemons_clock()
    {
        var repo = await RepositoryWithReleaseAsync(profile: "rpi5-fridge");
        await using var server = await RepositoryServer.StartAsync(repo, IPAddress.Loopback, 0, null);
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(testOutput,
        [
            $"--Profile={models.Profile()}", $"--Ota:Repository={server.Address}", $"--Ota:InitialRoot={Path.Combine(repo, "1.root.json")}",
            $"--Ota:Root={Path.Combine(_work, "scheduled-ota")}", "--Ota:CheckIntervalMinutes=60",
        ], RunningDaemon.WithClock(time));
        await using var client = await daemon.ConnectAsync();
        using var timeout = new CancellationTokenSource(Limit);
        await using var subscription = await client.SubscribeAsync(Topics.OtaProgress(daemon.DeviceId), timeout.Token);
        await using var progress = subscription.ReadAllAsync(timeout.Token).GetAsyncEnumerator(timeout.Token);

        // Subscribed (SUBACK) and the schedule's timer made before the clock moves: the check's first stage is seen live,
        // not as the retained last one, and the timer counts its hour from before the move.
        await daemon.WaitForLogAsync(m => m.Contains("Checking for updates every 60 minutes", StringComparison.Ordinal), Limit);
        time.Advance(TimeSpan.FromMinutes(60));

        Assert.True(await progress.MoveNextAsync());
        Assert.Equal(OtaStageNames.Checking, progress.Current.Deserialize<OtaProgressEvent>()!.Stage);
        Assert.True(await progress.MoveNextAsync());
        var refused = progress.Current.Deserialize<OtaProgressEvent>()!;
        Assert.Equal(OtaStageNames.Refused, refused.Stage);
        Assert.Equal(OtaRefusalCodes.Incompatible, refused.Refusal?.Code);
        Assert.Null((await client.GetStatusAsync()).Ota!.Bundle);
    }

    /// <summary>Keys, a repository, and bundle <c>kitchen</c> release 1 holding a forged voice model (another seed) for <paramref name="profile"/>, made with the technician's tool.</summary>
    private async Task<string> RepositoryWithReleaseAsync(string profile)
    {
        var repo = Path.Combine(_work, "repo");
        foreach (var role in (string[])["root", "targets", "snapshot", "timestamp"])
        {
            Assert.Equal(0, (await CliAsync("keygen", "--out", Path.Combine(_work, role + ".key"))).Code);
        }

        var init = await CliAsync("init", "--repo", repo, "--role-key", $"root={Key("root")}", $"targets={Key("targets")}", $"snapshot={Key("snapshot")}", $"timestamp={Key("timestamp")}");
        Assert.True(init.Code == 0, init.Output);
        var model = Path.Combine(_work, "tiny-r1-v2");
        LlmForge.Write(LlmPreset.Tiny, 7, model);
        var release = await CliAsync("release", "--repo", repo, "--key", Key("targets"), Key("snapshot"), Key("timestamp"), "--bundle", "kitchen", "--release", "1", "--model", $"voiceLlm={model}", "--profile", profile, "--smoke-prompt", "Hello");
        Assert.True(release.Code == 0, release.Output);
        Assert.Contains("smoke test passed, 16 token ids recorded", release.Output, StringComparison.Ordinal);
        return repo;
    }

    private string Key(string role) => Path.Combine(_work, role + ".key");

    private string[] Args(string id, string profile, MosquittoBroker broker, Uri repository, string repo) =>
    [
        "--Mqtt:Mode=External", $"--Mqtt:External:Host={broker.Host}", $"--Mqtt:External:Port={broker.Port}", $"--Device:Id={id}", $"--Profile={profile}",
        $"--Ota:Repository={repository}", $"--Ota:InitialRoot={Path.Combine(repo, "1.root.json")}", $"--Ota:Root={Path.Combine(_work, id + "-ota")}",
        "--Ota:HealthWindowRequests=1", "--Ota:CheckIntervalMinutes=0", $"--Meetings:Root={Path.Combine(_work, id + "-meetings")}",
    ];

    /// <summary>The forged-model profile under another name.</summary>
    private string ProfileNamed(string name)
    {
        var profile = JsonNode.Parse(File.ReadAllText(models.Profile()))!.AsObject();
        profile["name"] = name;
        var path = Path.Combine(_work, name + ".json");
        File.WriteAllText(path, profile.ToJsonString());
        return path;
    }

    /// <summary>Starts an update (<c>ota.update</c>) and follows <c>ota/progress</c> to its refusal.</summary>
    private static async Task<OtaProgressEvent> UpdateUntilRefusedAsync(ApplianceClient client)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await using var progress = client.ObserveAsync(Topics.OtaProgress(client.DeviceId), timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.Null((await client.InvokeAsync(RpcMethods.OtaUpdate, new OtaBundleParams())).Error);
        while (await progress.MoveNextAsync())
        {
            if (progress.Current.Deserialize<OtaProgressEvent>() is { Stage: OtaStageNames.Refused } refused)
            {
                return refused;
            }
        }

        throw new TimeoutException("no refused stage on ota/progress");
    }

    private static async Task<StatusDocument> WaitForStatusAsync(ApplianceClient client, Func<StatusDocument, bool> condition)
    {
        using var timeout = new CancellationTokenSource(Limit);
        await foreach (var message in client.ObserveAsync(Topics.Status(client.DeviceId), timeout.Token))
        {
            if (message.Deserialize<StatusDocument>() is { Online: true } status && condition(status))
            {
                return status;
            }
        }

        throw new TimeoutException("no such status");
    }

    private static async Task<(int Code, string Output)> CliAsync(params string[] args)
    {
        using var writer = new StringWriter();
        var code = await OtaCli.InvokeAsync(args, PlainConsole.Create(writer));
        return (code, writer.ToString());
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
