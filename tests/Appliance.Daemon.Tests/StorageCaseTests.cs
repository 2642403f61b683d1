using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// Storage as it really is on a board, on real small file systems: the daemon runs as its own process in a mount
/// namespace (<see cref="DaemonProcess.StartWithMounts"/>) that mounts them, so no root is needed where unprivileged
/// user namespaces are allowed (CI runs as root anyway).
/// </summary>
public sealed class StorageCaseTests(ITestOutputHelper output)
{
    /// <summary>
    /// Field case readonly-root: the meetings folder is on a read-only file system (the sample systemd unit's
    /// working directory under ProtectSystem=strict). The daemon starts and serves; only meetings are unavailable:
    /// health's <c>storage</c> check says why, and a meeting start gets <c>storage_error</c>.
    /// </summary>
    [Fact]
    public async Task A_meetings_folder_that_cannot_be_written_degrades_only_meetings()
    {
        var mountPoint = Directory.CreateTempSubdirectory("appliance-ro-").FullName;
        var port = FreePort.Offered();
        var deviceId = $"ro-{Guid.NewGuid():N}"[..11];
        try
        {
            await using var daemon = DaemonProcess.StartWithMounts(
                $"mount -t tmpfs -o ro,size=1m tmpfs {mountPoint}",
                "--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", $"--Device:Id={deviceId}", $"--Meetings:Root={mountPoint}/meetings");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });

            var health = (await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams())).Value!;
            var start = await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = "m1", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            var status = await client.GetStatusAsync();

            output.WriteLine(daemon.Output);
            Assert.False(daemon.HasExited);
            Assert.True(status.Online);
            Assert.Equal(HealthStatus.Degraded, health.Checks["storage"].Status);
            Assert.Contains($"{mountPoint}/meetings cannot be written", health.Checks["storage"].Detail, StringComparison.Ordinal);
            Assert.Equal(HealthStatus.Ok, health.Checks["mqtt"].Status);
            Assert.Equal(RpcErrorCodes.StorageError, start.Error?.Code);
            Assert.Contains("meetings are unavailable on this device", start.Error!.Message, StringComparison.Ordinal);
            Assert.Contains("Meetings are unavailable, the rest of the appliance runs on", daemon.Output, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    /// <summary>
    /// Field case disk-full: the meetings folder on a 256 KiB file system that a meeting fills. The full disk is
    /// reported (the log, health's <c>storage</c> check), the frames refused for storage are counted apart from radio
    /// loss, and the stop, which cannot be written either, leaves one outcome: the reply is <c>storage_full</c> and the
    /// meeting is still recording, on disk and in <c>meetings.get</c>.
    /// </summary>
    [Fact]
    public async Task A_full_disk_is_reported_counted_apart_and_a_stop_has_one_outcome()
    {
        const int Frames = 1000;
        var mountPoint = Directory.CreateTempSubdirectory("appliance-full-").FullName;
        var port = FreePort.Offered();
        var deviceId = $"full-{Guid.NewGuid():N}"[..13];
        try
        {
            await using var daemon = DaemonProcess.StartWithMounts(
                $"mount -t tmpfs -o size=256k tmpfs {mountPoint}",
                "--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", $"--Device:Id={deviceId}", $"--Meetings:Root={mountPoint}/meetings", "--Meetings:MinFreeBytes=65536");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });
            const string Session = "full-1";
            var start = await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = Session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            Assert.Null(start.Error);

            var frame = new byte[640]; // 20 ms of 16 kHz PCM
            var pace = System.Diagnostics.Stopwatch.StartNew();
            for (var seq = 0; seq < Frames; seq++)
            {
                var due = TimeSpan.FromMilliseconds(5 * seq) - pace.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }

                new Random(seq).NextBytes(frame);
                await client.PublishAsync(MeetingAudioFrame.Create(deviceId, Session, seq, AudioCodecs.PcmS16LE, frame));
            }

            var stop = await client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = Session, LastSequence = Frames - 1 });
            var meeting = (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session })).Value!.Meeting;
            var health = (await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams())).Value!;

            output.WriteLine($"{meeting.Counters}; stop: {stop.Error}; storage: {health.Checks["storage"].Detail}");
            Assert.True(meeting.Counters.StorageRefused > 0, "the disk should have filled");
            Assert.True(meeting.Counters.Accepted > 0);
            Assert.Equal(Frames, meeting.Counters.Accepted + meeting.Counters.StorageRefused);
            Assert.Equal(HealthStatus.Degraded, health.Checks["storage"].Status);
            Assert.Contains("cannot be written to", health.Checks["storage"].Detail, StringComparison.Ordinal);
            Assert.Contains("refused for storage", daemon.Output, StringComparison.Ordinal);
            Assert.Equal(RpcErrorCodes.StorageFull, stop.Error?.Code);
            Assert.Equal(MeetingState.Open, meeting.State);
            Assert.False(daemon.HasExited);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    /// <summary>
    /// A full disk and its end, through the contract alone: a meeting that fills the disk has its frames refused and
    /// counted while health says why; a new meeting gets <c>storage_full</c>; deleting an old meeting frees the space,
    /// and then the same meeting takes frames again, health is back to ok, and the new meeting starts. Nothing
    /// accepted is lost: every frame sent is accepted or counted refused.
    /// </summary>
    [Fact]
    public async Task A_full_disk_refuses_new_meetings_with_storage_full_until_a_deleted_meeting_frees_it()
    {
        var mountPoint = Directory.CreateTempSubdirectory("appliance-fill-").FullName;
        var port = FreePort.Offered();
        var deviceId = $"fill-{Guid.NewGuid():N}"[..13];
        try
        {
            await using var daemon = DaemonProcess.StartWithMounts(
                $"mount -t tmpfs -o size=512k tmpfs {mountPoint}",
                "--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", $"--Device:Id={deviceId}", $"--Meetings:Root={mountPoint}/meetings", "--Meetings:MinFreeBytes=65536");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });
            var sent = new Dictionary<string, int>();

            Assert.Null((await Start("old")).Error);
            await Send("old", 250); // about 170 KiB
            Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsAbort, new SessionIdParams { SessionId = "old" })).Error);
            Assert.Null((await Start("live")).Error);
            await Send("live", 600); // more than the rest of the disk
            var full = await Meeting("live");
            var fullHealth = (await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams())).Value!.Checks["storage"];
            var refused = await Start("new");

            Assert.True(full.Counters.StorageRefused > 0, $"the disk should have filled: {full.Counters}");
            Assert.Equal((HealthStatus.Degraded, true), (fullHealth.Status, fullHealth.Detail!.Contains("No space left on device", StringComparison.Ordinal)));
            Assert.Equal(RpcErrorCodes.StorageFull, refused.Error?.Code);
            Assert.Contains("delete meetings", refused.Error!.Message, StringComparison.Ordinal);

            Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsDelete, new SessionIdParams { SessionId = "old" })).Error);
            await Send("live", 50);
            var freed = await Meeting("live");
            var freedHealth = (await client.InvokeAsync(RpcMethods.HealthGet, new EmptyParams())).Value!.Checks["storage"];
            var started = await Start("new");

            output.WriteLine($"full: {full.Counters}; freed: {freed.Counters}; {fullHealth.Detail}");
            Assert.Equal(full.Counters.Accepted + 50, freed.Counters.Accepted);
            Assert.Equal(sent["live"], freed.Counters.Accepted + freed.Counters.StorageRefused);
            Assert.Equal(HealthStatus.Ok, freedHealth.Status);
            Assert.Null(started.Error);
            var stop = await client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = "live", LastSequence = sent["live"] - 1 });
            Assert.Null(stop.Error);
            Assert.Equal(freed.Counters.StorageRefused, stop.Value!.Gaps!.Sum(g => g.Count));
            Assert.False(daemon.HasExited);

            Task<RpcResult<MeetingControlResult>> Start(string session) =>
                client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });

            async Task<MeetingInfo> Meeting(string session) =>
                (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting;

            // Paced at 5 ms a frame so the broker never drops one; returns once every frame sent is journaled or refused.
            async Task Send(string session, int frames)
            {
                var first = sent.GetValueOrDefault(session);
                var frame = new byte[640];
                var pace = System.Diagnostics.Stopwatch.StartNew();
                for (var seq = first; seq < first + frames; seq++)
                {
                    var due = TimeSpan.FromMilliseconds(5 * (seq - first)) - pace.Elapsed;
                    if (due > TimeSpan.Zero)
                    {
                        await Task.Delay(due);
                    }

                    new Random(seq).NextBytes(frame);
                    await client.PublishAsync(MeetingAudioFrame.Create(deviceId, session, seq, AudioCodecs.PcmS16LE, frame));
                }

                sent[session] = first + frames;
                var waited = System.Diagnostics.Stopwatch.StartNew();
                while ((await Meeting(session)).Counters is var c && c.Accepted + c.StorageRefused < first + frames)
                {
                    Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"frames of {session} still unaccounted for: {c}");
                    await Task.Delay(50);
                }
            }
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    /// <summary>
    /// A disk that fills in the middle of a journal batch. With a 1 s commit interval, a burst of 120 frames of 120 ms
    /// (3,874 bytes a record, 465 KB in all) reaches a 256 KiB disk in one batch after the first frame's. Every frame
    /// that fitted is accepted and the rest are refused for storage, so the disk is left with less room than one more
    /// record takes: the batch is not refused whole, and its written frames are not cut away to free space the next
    /// small write (a stop's state file) would then find.
    /// </summary>
    [Fact]
    public async Task A_disk_that_fills_in_the_middle_of_a_batch_keeps_every_frame_that_fitted()
    {
        const int Frames = 120;
        const int PageBytes = 4096; // tmpfs hands out whole pages
        var mountPoint = Directory.CreateTempSubdirectory("appliance-batch-").FullName;
        var port = FreePort.Offered();
        var deviceId = $"batch-{Guid.NewGuid():N}"[..13];
        try
        {
            await using var daemon = DaemonProcess.StartWithMounts(
                $"mount -t tmpfs -o size=256k tmpfs {mountPoint}",
                "--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", $"--Device:Id={deviceId}", $"--Meetings:Root={mountPoint}/meetings", "--Meetings:MinFreeBytes=65536", "--Meetings:CommitIntervalMilliseconds=1000");
            await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });
            const string Session = "burst";
            Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = Session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);

            var frame = new byte[3840];
            var pace = System.Diagnostics.Stopwatch.StartNew();
            for (var seq = 0; seq < Frames; seq++)
            {
                var due = TimeSpan.FromMilliseconds(2 * seq) - pace.Elapsed; // 240 ms in all, inside one commit interval
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due);
                }

                new Random(seq).NextBytes(frame);
                await client.PublishAsync(MeetingAudioFrame.Create(deviceId, Session, seq, AudioCodecs.PcmS16LE, frame));
            }

            var waited = System.Diagnostics.Stopwatch.StartNew();
            MeetingCounters counters;
            while ((counters = (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session })).Value!.Meeting.Counters) is var c && c.Accepted + c.StorageRefused < Frames)
            {
                Assert.True(waited.Elapsed < TimeSpan.FromSeconds(20), $"frames still unaccounted for: {c}");
                await Task.Delay(50);
            }

            var free = Appliance.Storage.DiskFull.FreeBytes($"/proc/{daemon.Id}/root{mountPoint}");
            output.WriteLine($"{counters}; free after: {free} bytes");
            Assert.Equal(Frames, counters.Accepted + counters.StorageRefused);
            Assert.True(counters.StorageRefused > 0, "the burst should have filled the disk");
            Assert.NotNull(free);
            Assert.True(free < 3874 + PageBytes, $"{free} bytes left free: frames that fitted were refused ({counters})");
            Assert.False(daemon.HasExited);
        }
        finally
        {
            Directory.Delete(mountPoint, recursive: true);
        }
    }

    /// <summary>Two daemons can never share one meetings folder: the second stops at start with a clear error, the first runs on.</summary>
    [Fact]
    public async Task A_second_daemon_on_the_same_meetings_folder_is_refused_at_start()
    {
        var root = Path.Combine(Path.GetTempPath(), "appliance-shared-root-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var first = DaemonProcess.Start("--Mqtt:Broker:Port=0", "--Device:Id=lock-a", $"--Meetings:Root={root}");
            await first.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await using var second = DaemonProcess.Start("--Mqtt:Broker:Port=0", "--Device:Id=lock-b", $"--Meetings:Root={root}");

            var exit = await second.WaitForExitAsync(TimeSpan.FromSeconds(30));

            output.WriteLine(second.Output);
            Assert.Equal(1, exit);
            Assert.Contains($"the meetings folder {root} is in use by another appliance daemon", second.Output, StringComparison.Ordinal);
            Assert.False(first.HasExited);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The sample systemd unit keeps the meetings under its writable state directory, not the read-only working directory.</summary>
    [Fact]
    public void The_sample_unit_puts_the_meetings_under_its_state_directory()
    {
        var unit = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "docs", "appliance-daemon.service"));

        Assert.Contains("ProtectSystem=strict", unit);
        Assert.Contains("StateDirectory=appliance", unit);
        Assert.Contains("ReadWritePaths=/var/lib/appliance", unit);
        Assert.Contains("Environment=Meetings__Root=/var/lib/appliance/meetings", unit);
    }
}
