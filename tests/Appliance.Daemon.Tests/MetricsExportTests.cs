using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// The daemon's figures through OpenTelemetry, as operators' dashboards read them: a Prometheus scrape endpoint and an
/// OTLP push (HTTP/protobuf to a listener standing in for the collector); both off unless configured, and a bad
/// setting stops the start with the reason.
/// </summary>
public sealed class MetricsExportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_prometheus_endpoint_shows_open_meetings_capacity_and_frames_accepted_and_lost()
    {
        // A process of its own: OpenTelemetry listens to every meter of its name in a process, and other tests run
        // daemons in this one.
        var (port, brokerPort, deviceId) = (FreePort.Offered(), FreePort.Offered(), $"prom-{Guid.NewGuid():N}"[..13]);
        await using var daemon = DaemonProcess.Start("--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={brokerPort}", $"--Device:Id={deviceId}", $"--Metrics:PrometheusPort={port}");
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = brokerPort, DeviceId = deviceId });
        Assert.Null((await client.ControlMeetingAsync("room-1", new MeetingControl { Action = "start", Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 })).Error);
        foreach (var seq in Enumerable.Range(0, 10).Where(n => n != 5))
        {
            await client.PublishAsync(MeetingAudioFrame.Create(deviceId, "room-1", seq, AudioCodecs.PcmS16LE, new byte[640]));
        }

        await MeetingTests.WaitForAsync(client, "room-1", m => m.GetProperty("counters").GetProperty("accepted").GetInt64() == 9);
        using var http = new HttpClient();
        var open = await http.GetStringAsync(new Uri($"http://localhost:{port}/metrics"));
        output.WriteLine(open);
        Assert.Equal("192", Sample(open, "appliance_meetings_capacity"));
        Assert.Equal("1", Sample(open, "appliance_meetings_open"));
        Assert.Equal("9", Sample(open, "appliance_meetings_frames_accepted_total"));
        Assert.Equal("0", Sample(open, "appliance_meetings_frames_lost_total"));

        var stopped = await client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = "room-1", LastSequence = 9 });
        Assert.Equal([new SequenceGap(5, 1)], stopped.Value!.Gaps!);
        var after = await http.GetStringAsync(new Uri($"http://localhost:{port}/metrics"));
        Assert.Equal("0", Sample(after, "appliance_meetings_open"));
        Assert.Equal("1", Sample(after, "appliance_meetings_frames_lost_total"));
    }

    [Fact]
    public async Task The_otlp_exporter_pushes_the_meter_named_by_device_to_the_collector()
    {
        using var collector = new HttpListener();
        var port = FreePort.Offered();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, [$"--Metrics:OtlpEndpoint=http://127.0.0.1:{port}/v1/metrics", "--Metrics:OtlpProtocol=http/protobuf", "--Metrics:OtlpIntervalSeconds=1"]);

        var context = await collector.GetContextAsync().WaitAsync(TimeSpan.FromSeconds(20));
        using var body = new MemoryStream();
        await context.Request.InputStream.CopyToAsync(body);
        context.Response.StatusCode = 200;
        context.Response.Close();

        Assert.Equal("/v1/metrics", context.Request.Url!.AbsolutePath);
        Assert.Equal("application/x-protobuf", context.Request.ContentType);
        var text = Encoding.UTF8.GetString(body.ToArray()); // protobuf strings are UTF-8 as they are
        Assert.Contains("appliance-daemon", text, StringComparison.Ordinal);
        Assert.Contains(daemon.DeviceId, text, StringComparison.Ordinal);
        Assert.Contains("appliance.meetings.capacity", text, StringComparison.Ordinal);
        Assert.Contains("appliance.rpc.queue.depth", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--Metrics:OtlpProtocol=udp", "is not grpc or http/protobuf")]
    [InlineData("--Metrics:OtlpEndpoint=collector:4317", "is not an absolute http:// or https:// address")]
    [InlineData("--Metrics:PrometheusPort=70000", "is outside 1–65535")]
    [InlineData("--Metrics:PrometheusHost=localhost:9", "is not a host name, an IPv4 address, an IPv6 address in brackets")]
    [InlineData("--Metrics:PrometheusHost=::1", "is not a host name, an IPv4 address, an IPv6 address in brackets")]
    public async Task A_bad_metrics_setting_stops_the_start_with_the_reason(string setting, string reason)
    {
        await using var daemon = DaemonProcess.Start("--Mqtt:Broker:Port=0", setting);

        Assert.Equal(2, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(reason, daemon.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scrape_port_in_use_stops_the_start_with_the_reason()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        await using var daemon = DaemonProcess.Start("--Mqtt:Broker:Port=0", $"--Metrics:PrometheusPort={((IPEndPoint)taken.LocalEndpoint).Port}");

        Assert.Equal(1, await daemon.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("the metrics scrape endpoint (Metrics:PrometheusHost, Metrics:PrometheusPort) cannot listen", daemon.Output, StringComparison.Ordinal);
    }

    /// <summary>The value of the first sample of <paramref name="metric"/> in a Prometheus text exposition.</summary>
    private static string? Sample(string exposition, string metric) =>
        Regex.Match(exposition, $@"^{Regex.Escape(metric)}(\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline) is { Success: true } m ? m.Groups[2].Value : null;
}
