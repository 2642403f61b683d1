using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.Tests.Common;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests;

/// <summary>
/// The embedded broker's maximum packet size, spoken to with hand-written MQTT packets (MQTT 5.0 and 3.1.1) so that a
/// test controls every byte: announced in the CONNACK, a packet of exactly the limit forwarded, one byte more refused
/// from its header before the body is read, and field case mqtt-max-packet, ten clients sending 200 MB each.
/// </summary>
public sealed class BrokerPacketLimitTests(ITestOutputHelper output)
{
    private const int Mqtt5 = 5;
    private const int Mqtt311 = 4;

    /// <summary>
    /// Field case mqtt-max-packet: ten clients (five MQTT 5, five MQTT 3.1.1) each publish a 200 MB message to a meeting
    /// audio topic at once. Each MQTT 5 client is told the limit in its CONNACK. Every connection is closed after the
    /// header, long before 200 MB are sent; the daemon's peak resident memory stays under 300 MB (it went to 1.5 GB
    /// before the fix), each refusal is logged, and the daemon answers as before.
    /// </summary>
    [Fact]
    public async Task Ten_clients_publishing_200_MB_each_are_refused_from_the_header_and_memory_stays_flat()
    {
        const long messageBytes = 200L * 1000 * 1000;
        var port = FreePort.Offered();
        var deviceId = $"big-{Guid.NewGuid():N}"[..12];
        await using var daemon = DaemonProcess.Start("--Mqtt:Mode=Embedded", $"--Mqtt:Broker:Port={port}", $"--Device:Id={deviceId}");
        await daemon.WaitReadyAsync(TimeSpan.FromSeconds(30));
        var before = ResidentKib(daemon.Id, "VmRSS:");

        using var sampling = new CancellationTokenSource();
        var peakDuringKib = 0L;
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peakDuringKib = Math.Max(peakDuringKib, ResidentKib(daemon.Id, "VmRSS:"));
                await Task.Delay(10, CancellationToken.None);
            }
        });
        var sent = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            var level = i < 5 ? Mqtt5 : Mqtt311;
            await using var client = await RawMqttClient.ConnectAsync(port, level, $"big-sender-{i}");
            if (level == Mqtt5)
            {
                Assert.Equal((uint)MqttOptions.DefaultMaximumPacketSize, client.AnnouncedMaximumPacketSize);
            }

            return await client.StreamPublishAsync($"appliance/v1/{deviceId}/meetings/m{i}/audio", messageBytes, TimeSpan.FromSeconds(30));
        }));
        await sampling.CancelAsync();
        await sampler;
        var peakKib = ResidentKib(daemon.Id, "VmHWM:");

        output.WriteLine($"resident before {before / 1024} MiB, highest sampled {peakDuringKib / 1024} MiB, peak (VmHWM) {peakKib / 1024} MiB; "
            + $"bytes each client got out before the broker closed it: {string.Join(", ", sent.Select(s => s / 1024 / 1024 + " MiB"))}");
        Assert.All(sent, s => Assert.True(s < messageBytes / 4, $"a client sent {s} bytes before it was cut off"));
        Assert.True(peakKib < 300 * 1024, $"peak resident set {peakKib / 1024} MiB");
        Assert.True(peakDuringKib - before < 64 * 1024, $"resident set grew from {before / 1024} to {peakDuringKib / 1024} MiB");
        var refusals = daemon.Output.Split('\n').Count(l => l.Contains($"Refused a PUBLISH packet of {messageBytes} bytes", StringComparison.Ordinal));
        Assert.Equal(10, refusals);

        await using var app = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = port, DeviceId = deviceId });
        Assert.True((await app.CallAsync(RpcMethods.HealthGet, new EmptyParams())).Result.HasValue, daemon.Output);
        Assert.False(daemon.HasExited);
    }

    /// <summary>
    /// A packet of exactly the configured maximum, fixed header included, reaches a subscriber; one byte more is
    /// refused from its fixed header alone (only the header is sent): an MQTT 5 client gets DISCONNECT 0x95 (Packet
    /// too large), an MQTT 3.1.1 client a closed connection; both on the plain and the TLS endpoint. The daemon's own
    /// connection is untouched.
    /// </summary>
    [Theory]
    [InlineData(Mqtt5, false)]
    [InlineData(Mqtt311, false)]
    [InlineData(Mqtt5, true)]
    public async Task A_packet_of_exactly_the_limit_passes_and_one_byte_more_is_refused(int level, bool tls)
    {
        const int limit = 200 * 1024;
        List<string> args = [$"--Mqtt:MaximumPacketSize={limit}"];
        if (tls)
        {
            args.AddRange(["--Mqtt:Broker:Tls:Enabled=true", $"--Mqtt:Broker:Tls:CertificatePath={BrokerSecurityTests.WriteSelfSignedCertificate("changeit")}", "--Mqtt:Broker:Tls:CertificatePassword=changeit"]);
        }

        await using var daemon = await RunningDaemon.StartEmbeddedAsync(output, args, withTls: tls);
        await using var client = await RawMqttClient.ConnectAsync(tls ? daemon.TlsPort!.Value : daemon.BrokerPort, level, "limit-client", tls);
        Assert.Equal(level == Mqtt5 ? (uint)limit : null, client.AnnouncedMaximumPacketSize);
        await client.SubscribeAsync("limit/echo");

        var exact = RawMqttClient.Publish(level, "limit/echo", limit);
        Assert.Equal(limit, exact.Length);
        await client.SendAsync(exact);
        var echoed = await client.ReadPacketAsync();
        Assert.Equal(RawMqttClient.PublishType, echoed?.Type);
        Assert.True(echoed!.Value.Body.AsSpan().EndsWith(exact.AsSpan(exact.Length - 1000)), "the forwarded message ends as the sent one did");

        // Only the fixed header of the packet one byte over: the broker refuses it from that alone, and with nothing
        // unread on its side its close cannot turn into a reset that loses the DISCONNECT.
        var over = RawMqttClient.Publish(level, "limit/echo", limit + 1);
        await client.SendAsync(over[..RawMqttClient.FixedHeaderLength(over)]);
        var answer = await client.ReadPacketAsync();
        if (level == Mqtt5)
        {
            Assert.Equal(RawMqttClient.DisconnectType, answer?.Type);
            Assert.Equal(0x95, answer!.Value.Body[0]);
            Assert.Null(await client.ReadPacketAsync());
        }
        else
        {
            Assert.Null(answer);
        }

        Assert.Contains(daemon.Logs, l => l.Message.Contains($"Refused a PUBLISH packet of {limit + 1} bytes from client limit-client", StringComparison.Ordinal));
        await using var app = await daemon.ConnectAsync();
        Assert.True((await app.CallAsync(RpcMethods.HealthGet, new EmptyParams())).Result.HasValue);
    }

    /// <summary>
    /// The limit is for clients, not for the daemon itself: with the smallest limit a reply larger than it (a long
    /// meeting's transcript) still reaches the caller, and the daemon is not cut off by its own broker.
    /// </summary>
    [Fact]
    public async Task The_daemons_own_replies_are_not_held_to_the_limit()
    {
        const int limit = 128 * 1024;
        await using var daemon = await RunningDaemon.StartEmbeddedAsync(
            output,
            [$"--Mqtt:MaximumPacketSize={limit}"],
            builder => builder.Services.AddSingleton<Appliance.Daemon.Rpc.IRpcMethod, LargeReplyMethod>());
        await using var client = await daemon.ConnectAsync();

        RpcReply? reply = null;
        await foreach (var r in client.StreamRawAsync("test.large", Encoding.UTF8.GetBytes($"{{\"bytes\":{3 * limit}}}")))
        {
            reply = r;
        }

        Assert.Equal(3 * limit, reply!.Result!.Value.GetProperty("text").GetString()!.Length);
        Assert.DoesNotContain(daemon.Logs, l => l.Message.Contains("Refused a", StringComparison.Ordinal));
        Assert.DoesNotContain(daemon.Logs, l => l.Message.Contains("Lost the MQTT connection", StringComparison.Ordinal));
        Assert.True((await client.CallAsync(RpcMethods.HealthGet, new EmptyParams())).Result.HasValue);
    }

    private static long ResidentKib(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>An MQTT client written byte by byte (MQTT 5.0 and 3.1.1 packet layouts), for packets no library would send.</summary>
    private sealed class RawMqttClient : IAsyncDisposable
    {
        public const byte PublishType = 3;
        public const byte DisconnectType = 14;

        private readonly TcpClient _tcp;
        private readonly Stream _stream;
        private readonly int _level;

        private RawMqttClient(TcpClient tcp, Stream stream, int level)
        {
            _tcp = tcp;
            _stream = stream;
            _level = level;
        }

        /// <summary>The Maximum Packet Size property (0x27) of the CONNACK; null when absent (always for MQTT 3.1.1).</summary>
        public uint? AnnouncedMaximumPacketSize { get; private set; }

        public static async Task<RawMqttClient> ConnectAsync(int port, int level, string clientId, bool tls = false)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", port);
            Stream stream = tcp.GetStream();
            if (tls)
            {
                var ssl = new SslStream(stream, false, (_, certificate, _, _) => certificate?.Subject == "CN=127.0.0.1"); // the test's own self-signed certificate
                await ssl.AuthenticateAsClientAsync("127.0.0.1");
                stream = ssl;
            }

            var client = new RawMqttClient(tcp, stream, level);
            var body = new List<byte>();
            body.AddRange(Utf8String("MQTT"));
            body.Add((byte)level);
            body.Add(0x02); // clean start / clean session
            body.AddRange([0, 60]); // keep alive, seconds
            if (level == Mqtt5)
            {
                body.Add(0); // no properties
            }

            body.AddRange(Utf8String(clientId));
            await client.SendAsync(Packet(0x10, [.. body]));
            var connAck = await client.ReadPacketAsync() ?? throw new InvalidOperationException("no CONNACK");
            Assert.Equal(2, connAck.Type);
            Assert.Equal(0, connAck.Body[1]); // accepted
            client.AnnouncedMaximumPacketSize = level == Mqtt5 ? MaximumPacketSizeProperty(connAck.Body.AsSpan(2)) : null;
            return client;
        }

        public static byte[] Publish(int level, string topic, int packetBytes)
        {
            var head = new List<byte>(Utf8String(topic));
            if (level == Mqtt5)
            {
                head.Add(0); // no properties
            }

            // Remaining length = head + payload; the fixed header is 1 byte plus the length's own size.
            var payload = packetBytes - 1 - head.Count;
            while (1 + LengthBytes(head.Count + payload) + head.Count + payload > packetBytes)
            {
                payload--;
            }

            var body = new byte[head.Count + payload];
            head.CopyTo(body);
            new Random(packetBytes).NextBytes(body.AsSpan(head.Count));
            return Packet(0x30, body);
        }

        public async Task SubscribeAsync(string filter)
        {
            var body = new List<byte> { 0, 1 }; // packet identifier
            if (_level == Mqtt5)
            {
                body.Add(0);
            }

            body.AddRange(Utf8String(filter));
            body.Add(0); // QoS 0
            await SendAsync(Packet(0x82, [.. body]));
            var subAck = await ReadPacketAsync();
            Assert.Equal((byte)9, subAck?.Type);
        }

        /// <summary>
        /// Sends the fixed header of a QoS 0 PUBLISH of <paramref name="messageBytes"/> in all, then zeros, until the
        /// peer closes the connection, all is sent or <paramref name="limit"/> passes; returns the bytes sent.
        /// </summary>
        public async Task<long> StreamPublishAsync(string topic, long messageBytes, TimeSpan limit)
        {
            var head = new List<byte>(Utf8String(topic));
            if (_level == Mqtt5)
            {
                head.Add(0);
            }

            var remaining = messageBytes - 5; // a four-byte remaining length for any message over 2 MB
            var header = new List<byte> { 0x30 };
            header.AddRange(EncodeLength(remaining));
            header.AddRange(head);
            var sent = 0L;
            var chunk = new byte[64 * 1024];
            using var timeout = new CancellationTokenSource(limit);
            try
            {
                await _stream.WriteAsync(header.ToArray(), timeout.Token);
                sent = header.Count;
                while (sent < messageBytes)
                {
                    var n = (int)Math.Min(chunk.Length, messageBytes - sent);
                    await _stream.WriteAsync(chunk.AsMemory(0, n), timeout.Token);
                    sent += n;
                }
            }
            catch (IOException)
            {
                // The broker closed the connection: what this test expects.
            }

            return sent;
        }

        public async Task SendAsync(byte[] packet) => await _stream.WriteAsync(packet);

        /// <summary>The bytes of a packet's fixed header: the type byte and the remaining length's bytes.</summary>
        public static int FixedHeaderLength(byte[] packet)
        {
            var length = 2;
            while ((packet[length - 1] & 0x80) != 0)
            {
                length++;
            }

            return length;
        }

        /// <summary>The next packet's type and body; null when the peer closed the connection.</summary>
        public async Task<(byte Type, byte[] Body)?> ReadPacketAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                var one = new byte[1];
                if (await _stream.ReadAsync(one, timeout.Token) == 0)
                {
                    return null;
                }

                var type = (byte)(one[0] >> 4);
                var length = 0;
                for (var multiplier = 1; ; multiplier *= 128)
                {
                    await _stream.ReadExactlyAsync(one, timeout.Token);
                    length += (one[0] & 0x7F) * multiplier;
                    if ((one[0] & 0x80) == 0)
                    {
                        break;
                    }
                }

                var body = new byte[length];
                await _stream.ReadExactlyAsync(body, timeout.Token);
                return (type, body);
            }
            catch (Exception e) when (e is IOException or EndOfStreamException)
            {
                return null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stream.DisposeAsync();
            _tcp.Dispose();
        }

        private static byte[] Packet(byte typeAndFlags, byte[] body) => [typeAndFlags, .. EncodeLength(body.Length), .. body];

        private static byte[] Utf8String(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
        }

        private static int LengthBytes(long value) => EncodeLength(value).Length;

        private static byte[] EncodeLength(long value)
        {
            var bytes = new List<byte>();
            do
            {
                var b = (byte)(value % 128);
                value /= 128;
                bytes.Add(value > 0 ? (byte)(b | 0x80) : b);
            }
            while (value > 0);
            return [.. bytes];
        }

        /// <summary>Reads the CONNACK properties (MQTT 5.0 §3.2.2.3) for Maximum Packet Size.</summary>
        private static uint? MaximumPacketSizeProperty(ReadOnlySpan<byte> properties)
        {
            var length = 0;
            var at = 0;
            for (var multiplier = 1; ; multiplier *= 128)
            {
                length += (properties[at] & 0x7F) * multiplier;
                if ((properties[at++] & 0x80) == 0)
                {
                    break;
                }
            }

            var end = at + length;
            while (at < end)
            {
                var id = properties[at++];
                switch (id)
                {
                    case 0x27:
                        return (uint)(properties[at] << 24 | properties[at + 1] << 16 | properties[at + 2] << 8 | properties[at + 3]);
                    case 0x11:
                        at += 4;
                        break;
                    case 0x21 or 0x22 or 0x13:
                        at += 2;
                        break;
                    case 0x24 or 0x25 or 0x28 or 0x29 or 0x2A:
                        at += 1;
                        break;
                    case 0x12 or 0x1F or 0x1A or 0x1C or 0x15 or 0x16:
                        at += 2 + (properties[at] << 8 | properties[at + 1]);
                        break;
                    case 0x26:
                        at += 2 + (properties[at] << 8 | properties[at + 1]);
                        at += 2 + (properties[at] << 8 | properties[at + 1]);
                        break;
                    default:
                        throw new InvalidDataException($"unknown CONNACK property 0x{id:X2}");
                }
            }

            return null;
        }
    }
}
