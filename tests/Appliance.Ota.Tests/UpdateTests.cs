using Appliance.Contracts;
using Appliance.Ota;

namespace Appliance.Ota.Tests;

/// <summary>Downloads that resume, bundles that install whole or not at all, smoke tests, health windows and rollbacks.</summary>
public sealed class UpdateTests
{
    private static CancellationToken Cancel() => new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task An_interrupted_download_resumes_with_a_range_request_and_installs()
    {
        await using var world = await OtaWorld.CreateAsync();
        var members = world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1", bytes: 512 * 1024))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        var ranges = new List<string>();
        var cut = true;
        world.Fault = async (context, serve) =>
        {
            if (!context.Request.Url!.AbsolutePath.StartsWith("/targets/", StringComparison.Ordinal))
            {
                await serve(null);
                return;
            }

            ranges.Add(context.Request.Headers["Range"] ?? "");
            if (cut)
            {
                cut = false;
                var bytes = File.ReadAllBytes(Path.Combine(world.Repository.Directory, "targets", members[0]));
                context.Response.ContentLength64 = bytes.Length;
                await context.Response.OutputStream.WriteAsync(bytes.AsMemory(0, 200 * 1024));
                await context.Response.OutputStream.FlushAsync();
                context.Response.Abort();
                return;
            }

            await serve(null);
        };

        var first = await device.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaStageNames.Refused, first.Stage);
        Assert.Equal(OtaRefusalCode.Unreachable, first.Refusal!.Code);
        var part = Assert.Single(Directory.GetFiles(Path.Combine(world.Directory, "devices", "d1", "staging")));
        var kept = new FileInfo(part).Length;
        Assert.InRange(kept, 1, (200 * 1024) + 1);

        var second = await device.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaStageNames.HealthWindow, second.Stage);
        Assert.Equal(["", $"bytes={kept}-"], ranges);
        Assert.Null(device.Slots.CheckSlot("vad", device.Slots.State.Features["vad"]));
        Assert.Empty(Directory.GetFiles(Path.Combine(world.Directory, "devices", "d1", "staging")));
    }

    [Fact]
    public async Task A_corrupted_partial_download_is_dropped_and_fetched_again()
    {
        await using var world = await OtaWorld.CreateAsync();
        var members = world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1", bytes: 64 * 1024))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        var target = world.Repository.Targets.Targets[members[0]];
        var staging = Path.Combine(world.Directory, "devices", "d1", "staging");
        Directory.CreateDirectory(staging);
        File.WriteAllBytes(Path.Combine(staging, target.Hashes["sha256"] + ".part"), new byte[1000]);

        var first = await device.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaRefusalCode.HashMismatch, first.Refusal?.Code);
        Assert.Empty(Directory.GetFiles(staging));

        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
    }

    [Fact]
    public async Task A_bundle_with_one_bad_target_switches_nothing()
    {
        await using var world = await OtaWorld.CreateAsync();
        world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1")), ("asr", world.ModelFolder("asr-1"))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        device.Slots.Commit();
        var members = world.Release("kitchen", 2, [("vad", world.ModelFolder("vad-2")), ("asr", world.ModelFolder("asr-2"))]);
        var asr = Path.Combine(world.Repository.Directory, "targets", members[1]);
        File.WriteAllBytes(asr, [.. File.ReadAllBytes(asr).Select(b => (byte)(b ^ 1))]);

        var result = await device.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaRefusalCode.HashMismatch, result.Refusal?.Code);
        Assert.Equal(1, device.Slots.State.BundleRelease);
        Assert.Equal(["asr", "vad"], device.Slots.State.Features.Where(f => f.Value.Release == 1).Select(f => f.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_release_that_fails_its_smoke_test_is_never_switched_to()
    {
        await using var world = await OtaWorld.CreateAsync();
        world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1"))]);
        var smoke = new ScriptedSmokeTest((path, target) => target.Release == 2 ? "token ids 1 2 3, recorded 1 2 4" : null);
        var device = world.Device("d1", smoke);
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        device.Slots.Commit();
        var active = device.Slots.ActivePath("vad");
        world.Release("kitchen", 2, [("vad", world.ModelFolder("vad-2"))]);

        var result = await device.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaRefusalCode.SmokeTestFailed, result.Refusal?.Code);
        Assert.Contains("recorded 1 2 4", result.Refusal!.Message, StringComparison.Ordinal);
        Assert.Equal(active, device.Slots.ActivePath("vad"));
        Assert.Equal(1, device.Slots.State.BundleRelease);
        Assert.Null(device.Slots.State.Trial);
        Assert.Equal(2, smoke.Tested.Count);
        Assert.NotEqual(active, smoke.Tested[1]);
    }

    [Fact]
    public async Task A_crash_loop_in_the_health_window_rolls_back_and_the_release_is_not_taken_again()
    {
        await using var world = await OtaWorld.CreateAsync();
        var (device, first) = await SwitchedToSecondReleaseAsync(world);
        Assert.NotEqual(first, device.Slots.ActivePath("vad"));

        // Each start of the daemon is counted; the fourth within the window is taken for a crash loop.
        var folder = Path.Combine(world.Directory, "devices", "d1", "slots-store");
        for (var start = 1; start <= 3; start++)
        {
            Assert.Null(new SlotStore(folder, TimeProvider.System).RecordStart(maxStarts: 3));
        }

        var restarted = new SlotStore(folder, TimeProvider.System);
        var reason = restarted.RecordStart(maxStarts: 3);

        Assert.StartsWith("crash loop: 4 starts", reason, StringComparison.Ordinal);
        Assert.Equal(first, restarted.ActivePath("vad"));
        Assert.Equal(1, restarted.State.BundleRelease);
        Assert.Equal(2, restarted.State.LastRollback?.Release);

        var again = world.Device("d1", new ScriptedSmokeTest());
        var refused = await again.UpdateAsync(null, null, Cancel());
        Assert.Equal(OtaRefusalCode.Rollback, refused.Refusal?.Code);
        Assert.Contains("rolled back from", refused.Refusal!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_truncated_file_in_the_active_slot_is_found_at_start_and_the_previous_models_come_back()
    {
        await using var world = await OtaWorld.CreateAsync();
        var (device, first) = await SwitchedToSecondReleaseAsync(world);
        var torn = Path.Combine(device.Slots.ActivePath("vad")!, "part1.onnx");
        using (var file = new FileStream(torn, FileMode.Open))
        {
            file.SetLength(file.Length / 2);
        }

        var restarted = new SlotStore(Path.Combine(world.Directory, "devices", "d1", "slots-store"), TimeProvider.System);
        var reason = restarted.RecordStart(maxStarts: 3);

        Assert.Contains("part1.onnx is missing or not 4096 bytes long", reason, StringComparison.Ordinal);
        Assert.Equal(first, restarted.ActivePath("vad"));
    }

    [Fact]
    public async Task An_unchanged_model_folder_packs_to_the_same_archive_so_devices_running_it_download_nothing()
    {
        await using var world = await OtaWorld.CreateAsync();
        var folder = world.ModelFolder("vad-1");
        Directory.CreateDirectory(Path.Combine(folder, "sub"));
        File.WriteAllText(Path.Combine(folder, "sub", "config.json"), "{}");
        var first = world.Repository.Pack(folder, new ModelTarget { Feature = "vad", ModelId = "vad-1", Release = 1 }).File.Hashes["sha256"];
        File.SetLastWriteTimeUtc(Path.Combine(folder, "part0.onnx"), DateTime.UtcNow.AddDays(-3));

        var again = world.Repository.Pack(folder, new ModelTarget { Feature = "vad", ModelId = "vad-1", Release = 2 }).File.Hashes["sha256"];

        Assert.Equal(first, again);
    }

    /// <summary>A device that confirmed VAD release 1 and switched to release 2, in its health window; and release 1's folder.</summary>
    private static async Task<(OtaUpdater Device, string? First)> SwitchedToSecondReleaseAsync(OtaWorld world)
    {
        world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1"))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        device.Slots.Commit();
        var first = device.Slots.ActivePath("vad");
        world.Release("kitchen", 2, [("vad", world.ModelFolder("vad-2"))]);
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        return (device, first);
    }

    [Fact]
    public async Task A_damaged_state_file_is_read_from_its_copy_and_with_both_damaged_the_profile_models_run()
    {
        await using var world = await OtaWorld.CreateAsync();
        world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1"))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        var folder = Path.Combine(world.Directory, "devices", "d1", "slots-store");
        File.WriteAllText(Path.Combine(folder, "state.json"), "{\"bundle\": \"kit");

        var fromCopy = new SlotStore(folder, TimeProvider.System);
        Assert.Equal("kitchen", fromCopy.State.Bundle);
        Assert.Contains("state.json", fromCopy.StateDamage, StringComparison.Ordinal);

        File.WriteAllBytes(Path.Combine(folder, "state.copy.json"), []);
        var neither = new SlotStore(folder, TimeProvider.System);
        Assert.Null(neither.State.Bundle);
        Assert.Null(neither.ActivePath("vad"));
        Assert.EndsWith("the profile's models are used", neither.StateDamage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_damaged_trusted_root_is_replaced_by_the_provisioned_one_and_updates_go_on()
    {
        await using var world = await OtaWorld.CreateAsync();
        world.Release("kitchen", 1, [("vad", world.ModelFolder("vad-1"))]);
        var device = world.Device("d1", new ScriptedSmokeTest());
        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        device.Slots.Commit();
        world.RotateTimestampKey();
        world.Release("kitchen", 2, [("vad", world.ModelFolder("vad-2"))]);
        var trusted = Path.Combine(world.Directory, "devices", "d1", "metadata", "root.json");
        File.WriteAllBytes(trusted, File.ReadAllBytes(trusted)[..100]);

        Assert.Equal(OtaStageNames.HealthWindow, (await device.UpdateAsync(null, null, Cancel())).Stage);
        Assert.Equal(2, device.Slots.State.BundleRelease);
        Assert.Contains("\"version\": 2", File.ReadAllText(trusted), StringComparison.Ordinal);
    }
}
