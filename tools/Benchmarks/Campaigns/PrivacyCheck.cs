using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Appliance.Benchmarks.Fleet;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>One socket the daemon connected (or sent a datagram) to, as <c>strace</c> recorded it.</summary>
/// <param name="Family">The address family: <c>AF_INET</c>, <c>AF_INET6</c>, <c>AF_UNIX</c>, <c>AF_NETLINK</c>…</param>
/// <param name="Address">Address and port (<c>10.201.0.1:1883</c>), the socket path, or empty.</param>
/// <param name="Call">The system call: <c>connect</c>, <c>sendto</c>, <c>sendmsg</c> or <c>sendmmsg</c>.</param>
internal sealed record SocketUse(string Family, string Address, string Call)
{
    /// <summary>Whether it goes to an IP address (or a raw link): the kind that can leave the device.</summary>
    public bool IsNetwork => Family is "AF_INET" or "AF_INET6" or "AF_PACKET";

    /// <summary>Whether it hands a name lookup to a resolver on the device (nscd, systemd-resolved), which would then ask the network.</summary>
    public bool IsNameLookup => Family == "AF_UNIX" && (Address.Contains("nscd", StringComparison.Ordinal) || Address.Contains("resolve", StringComparison.Ordinal));
}

/// <summary>What the privacy check found.</summary>
/// <param name="Features">Each feature exercised, with what the daemon answered.</param>
/// <param name="Allowed">The addresses the daemon may reach: the broker.</param>
/// <param name="Uses">Every distinct socket use the trace recorded, with how many times.</param>
/// <param name="Failure">Why the check stopped early, or null.</param>
internal sealed record PrivacyReport(IReadOnlyList<(string Feature, string Outcome)> Features, IReadOnlyList<string> Allowed, IReadOnlyList<(SocketUse Use, int Count)> Uses, string? Failure)
{
    /// <summary>Network uses outside <see cref="Allowed"/>, and name lookups: must be none.</summary>
    public IReadOnlyList<SocketUse> Forbidden => [.. Uses.Select(u => u.Use).Where(u => (u.IsNetwork && !Allowed.Contains(u.Address)) || u.IsNameLookup)];

    /// <summary>Every feature answered as expected and nothing but the broker was reached.</summary>
    public bool Passed => Failure is null && Forbidden.Count == 0 && Features.All(f => f.Outcome.StartsWith("ok", StringComparison.Ordinal));
}

/// <summary>
/// The privacy check: the daemon runs in a network namespace whose only link leads to the broker, under
/// <c>strace</c>, which records every <c>connect</c>, <c>sendto</c>, <c>sendmsg</c> and <c>sendmmsg</c> with an address
/// of the daemon and all its threads. Every feature is used once through the contract (status, profile, health, models, a chat, a
/// transcription, a meeting from start to summary, the cancels, the fleet view, the sensors' telemetry). Then the
/// trace must show no network address but the broker's, and no name lookup handed to a resolver on the device: no
/// telemetry, no update check. Other local uses (netlink to the kernel, Unix sockets) are listed as they are. Bounded: 2 minutes for the models and for each call.
/// </summary>
internal static class PrivacyCheck
{
    private const string DeviceId = "privacy-hub";
    private static readonly TimeSpan CallTimeout = TimeSpan.FromMinutes(2);
    private static readonly Regex Family = new(@"sa_family=(AF_[A-Z0-9]+)", RegexOptions.CultureInvariant);
    private static readonly Regex Inet = new(@"sin_port=htons\((\d+)\), sin_addr=inet_addr\(""([^""]+)""\)", RegexOptions.CultureInvariant);
    private static readonly Regex Inet6 = new(@"sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, ""([^""]+)""", RegexOptions.CultureInvariant);
    private static readonly Regex Unix = new(@"sun_path=(@?""[^""]*"")", RegexOptions.CultureInvariant);
    private static readonly Regex Call = new(@"(connect|sendto|sendmmsg|sendmsg)\(", RegexOptions.CultureInvariant);

    public static async Task<PrivacyReport> RunAsync(string workDirectory, Action<string> progress, CancellationToken cancellationToken)
    {
        var profilePath = BenchProfiles.Write(BenchProfiles.TinyModels(workDirectory, out var llm), workDirectory, "privacy-profile");
        var trace = Path.Combine(workDirectory, "daemon.strace");

        await using var space = await NetworkNamespace.CreateAsync().ConfigureAwait(false);
        await using var broker = await BenchMosquitto.StartAsync(workDirectory, alsoOn: space.HostAddress).ConfigureAwait(false);
        var allowed = new[] { string.Create(CultureInfo.InvariantCulture, $"{space.HostAddress}:{broker.Port}") };
        progress($"privacy: the daemon in network namespace {space.Name}, traced by strace into {trace}; it may reach {allowed[0]} only");
        var features = new List<(string, string)>();
        string? failure = null;
        var daemon = await BenchDaemon.StartAsync(
            profilePath,
            DeviceId,
            Path.Combine(workDirectory, "privacy-daemon"),
            TimeSpan.FromSeconds(120),
            cancellationToken,
            broker.Port,
            ["--Simulation:ChecksumFailureRate=0"],
            [.. space.Launcher, "strace", "-f", "-qq", "-s", "0", "-e", "trace=connect,sendto,sendmsg,sendmmsg", "-o", trace],
            space.HostAddress).ConfigureAwait(false);
        try
        {
            await using var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = broker.Port, DeviceId = DeviceId, DefaultTimeout = CallTimeout }, cancellationToken).ConfigureAwait(false);
            await UseEveryFeatureAsync(client, llm, features, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (CampaignMeetings.IsFault(ex))
        {
            failure = CampaignMeetings.Describe(ex, daemon);
        }
        finally
        {
            await daemon.DisposeAsync().ConfigureAwait(false);
        }

        return new PrivacyReport(features, allowed, ReadTrace(trace), failure);
    }

    /// <summary>Every distinct socket use in an strace output file, with its count.</summary>
    internal static IReadOnlyList<(SocketUse Use, int Count)> ReadTrace(string path) =>
        [.. File.ReadLines(path)
            .Select(Parse)
            .OfType<SocketUse>()
            .GroupBy(u => u)
            .Select(g => (g.Key, g.Count()))
            .OrderBy(u => u.Key.Family, StringComparer.Ordinal)
            .ThenBy(u => u.Key.Address, StringComparer.Ordinal)];

    /// <summary>The socket use on one strace line, or null when the line has no address (a send on a connected socket).</summary>
    internal static SocketUse? Parse(string line)
    {
        if (Call.Match(line) is not { Success: true } call || Family.Match(line) is not { Success: true } family)
        {
            return null;
        }

        var address = family.Groups[1].Value switch
        {
            "AF_INET" when Inet.Match(line) is { Success: true } m => $"{m.Groups[2].Value}:{m.Groups[1].Value}",
            // A dual-mode socket reaches an IPv4 address as ::ffff:a.b.c.d: written as the IPv4 address it is.
            "AF_INET6" when Inet6.Match(line) is { Success: true } m && m.Groups[2].Value.StartsWith("::ffff:", StringComparison.Ordinal) && m.Groups[2].Value.Contains('.', StringComparison.Ordinal)
                => $"{m.Groups[2].Value["::ffff:".Length..]}:{m.Groups[1].Value}",
            "AF_INET6" when Inet6.Match(line) is { Success: true } m => $"[{m.Groups[2].Value}]:{m.Groups[1].Value}",
            "AF_UNIX" when Unix.Match(line) is { Success: true } m => m.Groups[1].Value,
            _ => "",
        };
        return new SocketUse(family.Groups[1].Value, address, call.Groups[1].Value);
    }

    private static async Task UseEveryFeatureAsync(ApplianceClient client, string llm, List<(string, string)> features, Action<string> progress, CancellationToken cancellationToken)
    {
        await DaemonModels.WaitSettledAsync(client, [ModelFeatures.Asr, ModelFeatures.SummaryLlm, ModelFeatures.VoiceLlm], CallTimeout, cancellationToken).ConfigureAwait(false);
        async Task Use<TResult>(string feature, Task<RpcResult<TResult>> call, string? expectedError = null)
        {
            var reply = await call.ConfigureAwait(false);
            var outcome = reply.Error is { } error
                ? (error.Code == expectedError ? $"ok ({error.Code}, as expected)" : $"FAILED: {error.Code}: {error.Message}")
                : expectedError is null ? "ok" : $"FAILED: answered, {expectedError} expected";
            features.Add((feature, outcome));
            progress($"privacy: {feature}: {outcome}");
        }

        var pcm = new byte[16000 * 2 * 2]; // 2 s of 16 kHz s16le silence
        new Random(5).NextBytes(pcm.AsSpan(0, pcm.Length / 2));
        await Use("status.get", client.InvokeAsync(RpcMethods.StatusGet, EmptyParams.Instance, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("profile.get", client.InvokeAsync(RpcMethods.ProfileGet, EmptyParams.Instance, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("health.get", client.InvokeAsync(RpcMethods.HealthGet, EmptyParams.Instance, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("fleet.status (not in a fleet)", client.InvokeAsync(RpcMethods.FleetStatus, EmptyParams.Instance, cancellationToken: cancellationToken), RpcErrorCodes.Unavailable).ConfigureAwait(false);
        await Use("models.list", client.InvokeAsync(RpcMethods.ModelsList, EmptyParams.Instance, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("models.unload", client.InvokeAsync(RpcMethods.ModelsUnload, new ModelIdParams { Id = "tiny-voice" }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("models.load", client.InvokeAsync(RpcMethods.ModelsLoad, new ModelsLoadParams { Id = "tiny-voice", Path = llm }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("models.select", client.InvokeAsync(RpcMethods.ModelsSelect, new ModelIdParams { Id = "tiny-voice" }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("llm.chat", client.InvokeAsync(RpcMethods.LlmChat, new LlmChatParams { Messages = [new("user", "Is the fridge door open?")], MaxTokens = 12, Temperature = 0 }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("llm.cancel (nothing running)", client.InvokeAsync(RpcMethods.LlmCancel, new RequestIdParams { RequestId = "none" }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("asr.transcribe", client.InvokeAsync(RpcMethods.AsrTranscribe, new AsrTranscribeParams { Audio = Convert.ToBase64String(pcm), Format = "s16le", Language = "en" }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("asr.cancel (nothing running)", client.InvokeAsync(RpcMethods.AsrCancel, new RequestIdParams { RequestId = "none" }, cancellationToken: cancellationToken)).ConfigureAwait(false);

        const string Session = "privacy-meeting";
        await Use("meetings.start", client.InvokeAsync(RpcMethods.MeetingsStart, new MeetingStartParams { SessionId = Session, Codec = AudioCodecs.PcmS16LE, SampleRate = 16000, Channels = 1, Language = "en" }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        const int Frames = 150; // 3 s in 20 ms frames
        for (var seq = 0; seq < Frames; seq++)
        {
            await client.PublishAsync(MeetingAudioFrame.Create(DeviceId, Session, seq, AudioCodecs.PcmS16LE, pcm.AsMemory(seq % 100 * 640, 640)), cancellationToken).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken).ConfigureAwait(false);
        }

        await Use("meetings.stop", client.InvokeAsync(RpcMethods.MeetingsStop, new MeetingStopParams { SessionId = Session, LastSequence = Frames - 1 }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        while ((await MeetingRecord.GetAsync(client, Session, cancellationToken).ConfigureAwait(false)).Record is not { State: "completed" })
        {
            if (waited.Elapsed > CallTimeout)
            {
                throw new TimeoutException($"the meeting did not complete within {CallTimeout.TotalSeconds:0} s");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
        }

        features.Add(("meeting transcript and summary", "ok (completed)"));
        await Use("meetings.list", client.InvokeAsync(RpcMethods.MeetingsList, EmptyParams.Instance, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("meetings.get", client.InvokeAsync(RpcMethods.MeetingsGet, new SessionIdParams { SessionId = Session }, cancellationToken: cancellationToken)).ConfigureAwait(false);
        await Use("meetings.delete", client.InvokeAsync(RpcMethods.MeetingsDelete, new SessionIdParams { SessionId = Session }, cancellationToken: cancellationToken)).ConfigureAwait(false);

        // The simulated climate sensor publishes on its interval (10 s in dev-x64).
        await using var telemetry = await client.SubscribeAsync(Topics.Telemetry(DeviceId), cancellationToken).ConfigureAwait(false);
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(TimeSpan.FromSeconds(30));
        await using var messages = telemetry.ReadAllAsync(wait.Token).GetAsyncEnumerator(wait.Token);
        try
        {
            features.Add(("sensor telemetry", await messages.MoveNextAsync().ConfigureAwait(false) ? "ok (a reading published)" : "FAILED: the subscription ended"));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            features.Add(("sensor telemetry", "FAILED: no reading in 30 s"));
        }
    }
}
