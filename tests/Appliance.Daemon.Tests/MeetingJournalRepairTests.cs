using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// A journal whose tail a crash cut short is repaired at the next start and says so in a warning, which the SIGKILL
/// campaign counts: the records before the damage are kept, the bytes after it dropped.
/// </summary>
public sealed class MeetingJournalRepairTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_torn_audio_journal_is_repaired_at_restart_with_a_warning_and_keeps_every_whole_record()
    {
        var root = Path.Combine(Path.GetTempPath(), "journal-repair-" + Guid.NewGuid().ToString("N"));
        const string Session = "torn-1";
        await using (var first = await RunningDaemon.StartEmbeddedAsync(output, [$"--Meetings:Root={root}"]))
        {
            await using var client = await first.ConnectAsync();
            Assert.Null((await client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = Session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
            for (var seq = 0; seq < 20; seq++)
            {
                await client.PublishAsync(MeetingAudioFrame.Create(first.DeviceId, Session, seq, AudioCodecs.PcmS16LE, new byte[640]));
            }

            await MeetingTests.WaitForAsync(client, Session, m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == 20);
        }

        // A record's first bytes, written as a kill came: a tail shorter than any record.
        await File.AppendAllBytesAsync(Path.Combine(root, Session, "audio.journal"), [0x2A, 0x00, 0x00, 0x00, 0x07]);

        await using var second = await RunningDaemon.StartEmbeddedAsync(output, [$"--Meetings:Root={root}"]);
        await second.WaitForLogAsync(m => m.Contains($"Meeting {Session}: its audio journal ended in TornTail at restart; 5 bytes dropped from its tail, 20 records before them kept", StringComparison.Ordinal), TimeSpan.FromSeconds(20));
        await using var again = await second.ConnectAsync();
        var meeting = await MeetingTests.WaitForAsync(again, Session, _ => true);
        Assert.Equal(20, meeting.GetProperty("counters").GetProperty("accepted").GetInt64());
    }
}
