using Appliance.Benchmarks.Campaigns;

namespace Appliance.Benchmarks.Tests;

/// <summary>
/// The privacy check as the README runs it (every feature once is already short), and its reading of strace's lines.
/// The check creates a network namespace and traces with strace, so it needs root, as CI has; elsewhere it fails
/// saying so.
/// </summary>
public sealed class PrivacyCheckTests
{
    [Fact]
    public async Task Every_feature_once_reaches_nothing_but_the_broker()
    {
        var folder = Path.Combine(Path.GetTempPath(), "privacy-check-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            var report = await PrivacyCheck.RunAsync(folder, _ => { }, CancellationToken.None);

            var rows = string.Join("; ", PrivacyCheckCommand.Rows(report).Select(r => $"{r.Figure}: {r.Value}"));
            Assert.True(report.Passed, rows);
            Assert.Contains(report.Uses, u => u.Use.IsNetwork && report.Allowed.Contains(u.Use.Address));
            Assert.True(report.Features.Count >= 19, rows);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("123 connect(27, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"10.255.255.53\")}, 16) = 0", "AF_INET", "10.255.255.53:53", "connect", true)]
    [InlineData("123 connect(5, {sa_family=AF_INET6, sin6_port=htons(1883), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"::ffff:10.201.0.1\", &sin6_addr), sin6_scope_id=0}, 28 <unfinished ...>", "AF_INET6", "10.201.0.1:1883", "connect", true)]
    [InlineData("123 connect(5, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"2001:db8::1\", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH", "AF_INET6", "[2001:db8::1]:443", "connect", true)]
    [InlineData("123 connect(206, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = -1 ENOENT (No such file or directory)", "AF_UNIX", "\"/var/run/nscd/socket\"", "connect", false)]
    [InlineData("123 sendmmsg(7, [{msg_hdr={msg_name={sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr(\"9.9.9.9\")}, msg_namelen=16}}], 2, MSG_NOSIGNAL) = 2", "AF_INET", "9.9.9.9:53", "sendmmsg", true)]
    [InlineData("123 sendto(4, \"\"..., 20, 0, {sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, 12) = 20", "AF_NETLINK", "", "sendto", false)]
    public void A_trace_line_with_an_address_becomes_one_socket_use(string line, string family, string address, string call, bool network)
    {
        var use = PrivacyCheck.Parse(line);

        Assert.Equal(new SocketUse(family, address, call), use);
        Assert.Equal(network, use!.IsNetwork);
    }

    [Fact]
    public void A_name_lookup_handed_to_a_resolver_on_the_device_is_forbidden_like_a_network_address()
    {
        var nscd = PrivacyCheck.Parse("1 connect(206, {sa_family=AF_UNIX, sun_path=\"/var/run/nscd/socket\"}, 110) = -1 ENOENT")!;
        var resolved = PrivacyCheck.Parse("1 connect(9, {sa_family=AF_UNIX, sun_path=\"/run/systemd/resolve/io.systemd.Resolve\"}, 42) = 0")!;
        var journal = PrivacyCheck.Parse("1 connect(3, {sa_family=AF_UNIX, sun_path=\"/run/systemd/journal/socket\"}, 30) = 0")!;
        var report = new PrivacyReport([("status.get", "ok")], ["10.201.0.1:1883"], [(nscd, 1), (resolved, 1), (journal, 1)], null);

        Assert.Equal([nscd, resolved], report.Forbidden);
        Assert.False(report.Passed);
    }

    [Fact]
    public void A_send_on_a_connected_socket_names_no_address_and_is_not_a_use()
    {
        Assert.Null(PrivacyCheck.Parse("123 sendto(195, \"\"..., 118, MSG_NOSIGNAL, NULL, 0) = 118"));
        Assert.Null(PrivacyCheck.Parse("123 <... connect resumed>) = 0"));
    }
}
