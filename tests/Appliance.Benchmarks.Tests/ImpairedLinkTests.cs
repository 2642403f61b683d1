using System.Diagnostics;
using System.Net.NetworkInformation;
using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>
/// The user-space bad link the partition campaign uses where the kernel has no <c>sch_netem</c>: pings from this
/// machine to a network namespace of the test's own cross it both ways. It needs root (CAP_NET_ADMIN), iptables and
/// libnetfilter-queue1, as CI has; elsewhere it fails saying so.
/// </summary>
public sealed class ImpairedLinkTests
{
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task A_held_packet_goes_on_after_the_delay_each_way_and_the_rules_go_with_the_link()
    {
        await using var space = await NetworkNamespace.CreateAsync();
        var delay = TimeSpan.FromMilliseconds(150);
        using var ping = new Ping();
        ImpairedLinkCounts counts;
        await using (var link = await space.ImpairAsync(new LinkImpairment(Loss: 0, delay, Reorder: 0, Seed: 1)))
        {
            for (var i = 0; i < 3; i++)
            {
                var asked = Stopwatch.GetTimestamp();
                var reply = await ping.SendPingAsync(System.Net.IPAddress.Parse(space.InnerAddress), PingTimeout);
                Assert.Equal(IPStatus.Success, reply.Status);

                // Neither the request nor the reply may cross before its delay: a lower bound, not a speed.
                Assert.True(Stopwatch.GetElapsedTime(asked) >= 2 * delay, $"a round trip took {Stopwatch.GetElapsedTime(asked).TotalMilliseconds:0} ms across a link that holds each packet {delay.TotalMilliseconds:0} ms");
            }

            counts = link.Counts;
        }

        Assert.Equal((0L, 0L), (counts.Dropped, counts.Reordered));
        Assert.True(counts.Packets >= 6 && counts.Delayed == counts.Packets, $"{counts}");
        Assert.DoesNotContain("NFQUEUE", await IptablesRulesAsync(space));
        Assert.Equal(IPStatus.Success, (await ping.SendPingAsync(System.Net.IPAddress.Parse(space.InnerAddress), PingTimeout)).Status);
    }

    [Fact]
    public async Task Every_packet_is_dropped_at_full_loss_and_let_through_at_once_at_full_reorder()
    {
        await using var space = await NetworkNamespace.CreateAsync();
        var inner = System.Net.IPAddress.Parse(space.InnerAddress);
        using var ping = new Ping();
        await using (var link = await space.ImpairAsync(new LinkImpairment(Loss: 1, TimeSpan.Zero, Reorder: 0, Seed: 1)))
        {
            Assert.Equal(IPStatus.TimedOut, (await ping.SendPingAsync(inner, TimeSpan.FromSeconds(1))).Status);
            Assert.Equal(link.Counts.Packets, link.Counts.Dropped);
            Assert.True(link.Counts.Dropped >= 1);
        }

        // Held for a minute unless let through at once: the ping is answered only because every packet is reordered.
        await using (var link = await space.ImpairAsync(new LinkImpairment(Loss: 0, TimeSpan.FromMinutes(1), Reorder: 1, Seed: 1)))
        {
            Assert.Equal(IPStatus.Success, (await ping.SendPingAsync(inner, PingTimeout)).Status);
            Assert.True(link.Counts.Reordered >= 2 && link.Counts.Reordered == link.Counts.Packets, $"{link.Counts}");
        }
    }

    private static async Task<string> IptablesRulesAsync(NetworkNamespace space)
    {
        using var process = Process.Start(new ProcessStartInfo("ip", ["netns", "exec", space.Name, "iptables-legacy", "-S"]) { RedirectStandardOutput = true })!;
        var rules = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return rules;
    }
}
