using System.Diagnostics;
using System.Globalization;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>
/// A network namespace of the campaign's own, joined to this machine by one veth link: the host end has
/// <see cref="HostAddress"/>, the namespace end <see cref="InnerAddress"/> (one of the 16 384 /30s of 10.201.0.0/16,
/// picked at random, and another when its name is taken, so that campaigns side by side do not meet). A process started with <see cref="Launcher"/> sees only that link and
/// its own loopback. Cutting the link takes the host end down: packets are dropped without a reset, as when Wi-Fi goes.
/// Creating it needs CAP_NET_ADMIN (root). Disposing deletes the namespace, and the link with it.
/// </summary>
internal sealed class NetworkNamespace : IAsyncDisposable
{
    private readonly string _hostLink;

    private NetworkNamespace(string name, string hostLink, string hostAddress, string innerAddress)
    {
        Name = name;
        _hostLink = hostLink;
        HostAddress = hostAddress;
        InnerAddress = innerAddress;
    }

    public string Name { get; }

    public string HostAddress { get; }

    public string InnerAddress { get; }

    /// <summary>Runs a command line inside the namespace (<c>ip netns exec</c>).</summary>
    public IReadOnlyList<string> Launcher => ["ip", "netns", "exec", Name];

    /// <summary>Creates the namespace and its link, both up.</summary>
    /// <exception cref="InvalidOperationException">A step failed (most often: not root), with what <c>ip</c> said.</exception>
    public static async Task<NetworkNamespace> CreateAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await CreateAsync(Random.Shared.Next(16384)).ConfigureAwait(false);
            }
            catch (NameTakenException) when (attempt < 5)
            {
                // Another campaign holds that one: take another.
            }
        }
    }

    private static async Task<NetworkNamespace> CreateAsync(int id)
    {
        var network = string.Create(CultureInfo.InvariantCulture, $"10.201.{id / 64}.");
        var host = (id % 64 * 4) + 1;
        var name = string.Create(CultureInfo.InvariantCulture, $"appliance-{id}");
        var inner = string.Create(CultureInfo.InvariantCulture, $"ap{id}d");
        var space = new NetworkNamespace(name, string.Create(CultureInfo.InvariantCulture, $"ap{id}h"), network + host.ToString(CultureInfo.InvariantCulture), network + (host + 1).ToString(CultureInfo.InvariantCulture));
        try
        {
            await IpAsync("netns", "add", name).ConfigureAwait(false);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("File exists", StringComparison.Ordinal))
        {
            throw new NameTakenException(e.Message);
        }

        try
        {
            await IpAsync("link", "add", space._hostLink, "type", "veth", "peer", "name", inner, "netns", name).ConfigureAwait(false);
            await IpAsync("addr", "add", space.HostAddress + "/30", "dev", space._hostLink).ConfigureAwait(false);
            await IpAsync("link", "set", space._hostLink, "up").ConfigureAwait(false);
            await IpAsync("-n", name, "addr", "add", space.InnerAddress + "/30", "dev", inner).ConfigureAwait(false);
            await IpAsync("-n", name, "link", "set", inner, "up").ConfigureAwait(false);
            await IpAsync("-n", name, "link", "set", "lo", "up").ConfigureAwait(false);
            return space;
        }
        catch
        {
            await space.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Cuts the link: the host end goes down.</summary>
    public Task CutAsync() => IpAsync("link", "set", _hostLink, "down");

    /// <summary>Joins the link again.</summary>
    public Task RestoreAsync() => IpAsync("link", "set", _hostLink, "up");

    /// <summary>
    /// Makes the link bad, each way, as <paramref name="impairment"/> says (<see cref="ImpairedLink"/>: packets
    /// dropped, delayed and reordered in this process, so TCP sees real losses, round trips and out-of-order segments);
    /// disposing the result makes it good again.
    /// </summary>
    /// <exception cref="InvalidOperationException">The queue or the iptables rules could not be set up (apt-get install iptables libnetfilter-queue1; root).</exception>
    public Task<ImpairedLink> ImpairAsync(LinkImpairment impairment) =>
        ImpairedLink.StartAsync(Name, impairment, rule => RunAsync(["ip", "netns", "exec", Name, "iptables-legacy", .. rule]));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await IpAsync("netns", "del", Name).ConfigureAwait(false);
        }
        catch (InvalidOperationException)
        {
            // Never made, or already gone.
        }
    }

    /// <summary>The namespace's name is another's: nothing was made.</summary>
    private sealed class NameTakenException(string message) : InvalidOperationException(message);

    private static Task IpAsync(params string[] arguments) => RunAsync(["ip", .. arguments]);

    private static async Task RunAsync(params string[] command)
    {
        Process? started;
        try
        {
            // The C locale: the messages are matched ("File exists").
            var start = new ProcessStartInfo(command[0], command[1..]) { RedirectStandardError = true, RedirectStandardOutput = true };
            start.Environment["LC_ALL"] = "C";
            started = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{command[0]} could not be started ({e.Message}): apt-get install iproute2 iptables libnetfilter-queue1", e);
        }

        using var process = started ?? throw new InvalidOperationException($"{command[0]} could not be started");
        var output = process.StandardOutput.ReadToEndAsync(); // read, so that a full pipe never stops the command
        var error = await process.StandardError.ReadToEndAsync().ConfigureAwait(false);
        await output.ConfigureAwait(false);
        await process.WaitForExitAsync().ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{string.Join(' ', command)}: {error.Trim()}{(Environment.UserName == "root" ? "" : " (network namespaces need root: CAP_NET_ADMIN)")}");
        }
    }
}
