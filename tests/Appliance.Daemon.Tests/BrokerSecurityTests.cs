using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>The embedded broker's authentication, per-device ACL and TLS endpoint.</summary>
public sealed class BrokerSecurityTests(ITestOutputHelper output)
{
    private const string OtherDevice = "fridge-kitchen";

    private static string[] AuthArgs(string deviceId) =>
    [
        $"--Device:Id={deviceId}",
        "--Mqtt:Broker:Authentication:Enabled=true",
        "--Mqtt:Broker:Authentication:Users:0:Username=tv-remote",
        "--Mqtt:Broker:Authentication:Users:0:Password=remote-secret",
        $"--Mqtt:Broker:Authentication:Users:0:DeviceId={deviceId}",
        "--Mqtt:Broker:Authentication:Users:1:Username=fridge-panel",
        "--Mqtt:Broker:Authentication:Users:1:Password=panel-secret",
        $"--Mqtt:Broker:Authentication:Users:1:DeviceId={OtherDevice}",
        "--Mqtt:Broker:Authentication:Users:2:Username=operator",
        "--Mqtt:Broker:Authentication:Users:2:Password=operator-secret",
    ];

    [Fact]
    public async Task Wrong_or_missing_credentials_are_refused()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, AuthArgs("tv-living-room"));

        var wrongPassword = await Assert.ThrowsAsync<ApplianceClientException>(() => daemon.ConnectAsync("tv-remote", "guess"));
        var anonymous = await Assert.ThrowsAsync<ApplianceClientException>(() => daemon.ConnectAsync());

        Assert.Contains("BadUserNameOrPassword", wrongPassword.Message, StringComparison.Ordinal);
        Assert.Contains("BadUserNameOrPassword", anonymous.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_device_account_reaches_its_own_device_and_nothing_else()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, AuthArgs("tv-living-room"));
        await using var tv = await daemon.ConnectAsync("tv-remote", "remote-secret");

        var own = await tv.CallAsync("status.get");
        Assert.True(own.Result!.Value.GetProperty("online").GetBoolean());

        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await tv.TrySubscribeAsync($"appliance/v1/{OtherDevice}/#"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await tv.TrySubscribeAsync("appliance/v1/+/status"));
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await tv.TrySubscribeAsync("#"));
        var published = await tv.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic(Topics.Rpc(OtherDevice, "status.get"))
            .WithPayload("{}")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, published.ReasonCode);

        // The other device's account may not even watch this device's status.
        await using var fridge = await ApplianceClient.ConnectAsync(new ApplianceClientOptions
        {
            Host = daemon.BrokerHost, Port = daemon.BrokerPort, DeviceId = OtherDevice, Username = "fridge-panel", Password = "panel-secret",
        });
        Assert.Equal(MqttClientSubscribeResultCode.NotAuthorized, await fridge.TrySubscribeAsync(Topics.Status(daemon.DeviceId)));
    }

    [Fact]
    public async Task An_operator_account_reaches_every_device()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, AuthArgs("tv-living-room"));
        await using var operatorClient = await daemon.ConnectAsync("operator", "operator-secret");

        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, await operatorClient.TrySubscribeAsync("appliance/v1/+/status"));
        Assert.True((await operatorClient.CallAsync("health.get")).Error is null);
    }

    /// <summary>
    /// Meeting audio is for the daemon alone: the embedded broker hands a device's frames to the ingest and forwards them
    /// to no client, not even an operator subscribed to every meeting's topics (a sentinel the device publishes after its
    /// frames reaches the operator, so any forwarded frame would have reached it first; the meeting's progress does). Frames another device's account
    /// publishes on this device's audio topic are refused (QoS 1, so the refusal comes back) and never journaled.
    /// </summary>
    [Fact]
    public async Task Meeting_audio_reaches_the_daemon_alone_and_only_from_its_own_devices()
    {
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, AuthArgs("tv-living-room"));
        await using var tv = await daemon.ConnectAsync("tv-remote", "remote-secret");
        await using var operatorClient = await daemon.ConnectAsync("operator", "operator-secret");
        await using var fridge = await ApplianceClient.ConnectAsync(new ApplianceClientOptions
        {
            Host = daemon.BrokerHost, Port = daemon.BrokerPort, DeviceId = OtherDevice, Username = "fridge-panel", Password = "panel-secret",
        });
        await using var watched = await operatorClient.SubscribeAsync("appliance/v1/+/meetings/#");
        foreach (var session in new[] { "own", "foreign" })
        {
            var start = await tv.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1 });
            Assert.Null(start.Error);
        }

        var frame = new byte[640];
        for (var seq = 0; seq < 10; seq++)
        {
            await tv.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, "own", seq, AudioCodecs.PcmS16LE, frame));
        }

        var sentinel = Topics.MeetingAudio(daemon.DeviceId, "own").Replace("/audio", "/sentinel", StringComparison.Ordinal);
        await tv.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(sentinel).WithPayload("after the frames").Build());
        for (var seq = 0; seq < 5; seq++)
        {
            var forged = MeetingAudioFrame.Create(daemon.DeviceId, "foreign", seq, AudioCodecs.PcmS16LE, frame);
            forged.QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce;
            Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, (await fridge.PublishAsync(forged)).ReasonCode);
        }

        // The ingest journals in order: once the device's own frame on "foreign" is in, anything before it would be too.
        await tv.PublishAsync(MeetingAudioFrame.Create(daemon.DeviceId, "foreign", 0, AudioCodecs.PcmS16LE, frame));
        var stop = await tv.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = "own", LastSequence = 9 });
        var foreign = await WaitForAcceptedAsync(tv, "foreign", 1);
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var seenBeforeSentinel = new List<string>();
        while (await watched.ReadAsync(limit.Token) is var seen && seen.Topic != sentinel)
        {
            seenBeforeSentinel.Add(seen.Topic);
        }

        Assert.Null(stop.Error);
        Assert.Equal(10, (await tv.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = "own" })).Value!.Meeting.Counters.Accepted);
        Assert.Equal((1L, 0L), (foreign.Accepted, foreign.Duplicates));
        Assert.DoesNotContain(seenBeforeSentinel, topic => topic.EndsWith("/audio", StringComparison.Ordinal));
        Assert.Contains(Topics.MeetingProgress(daemon.DeviceId, "own"), seenBeforeSentinel); // the operator does see the meeting's own topics
    }

    private static async Task<MeetingCounters> WaitForAcceptedAsync(ApplianceClient client, string session, long accepted)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var counters = (await client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = session })).Value!.Meeting.Counters;
            if (counters.Accepted >= accepted || waited.Elapsed > TimeSpan.FromSeconds(10))
            {
                return counters;
            }

            await Task.Delay(20);
        }
    }

    [Fact]
    public async Task The_tls_endpoint_serves_the_contract_with_the_configured_certificate()
    {
        var certificatePath = WriteSelfSignedCertificate("changeit");
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(
            output,
            ["--Mqtt:Broker:Tls:Enabled=true", $"--Mqtt:Broker:Tls:CertificatePath={certificatePath}", "--Mqtt:Broker:Tls:CertificatePassword=changeit"],
            withTls: true);

        await using var client = await daemon.ConnectAsync(tls: true);
        var reply = await client.CallAsync("status.get");

        Assert.Equal(daemon.DeviceId, reply.Result!.Value.GetProperty("deviceId").GetString());
        // A client that insists on a trusted certificate refuses this self-signed one.
        await Assert.ThrowsAnyAsync<Exception>(() => ApplianceClient.ConnectAsync(new ApplianceClientOptions
        {
            Host = daemon.BrokerHost, Port = daemon.TlsPort!.Value, DeviceId = daemon.DeviceId, UseTls = true,
        }));
    }

    /// <summary>Writes a self-signed certificate for 127.0.0.1 to a new PKCS#12 file and returns its path.</summary>
    internal static string WriteSelfSignedCertificate(string password)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var path = Path.Combine(Path.GetTempPath(), $"broker-{Guid.NewGuid():N}.pfx");
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pfx, password));
        return path;
    }
}
