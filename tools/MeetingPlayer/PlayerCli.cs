using System.CommandLine;
using System.Globalization;
using Appliance.Audio;
using Appliance.Contracts;
using Spectre.Console;

namespace Appliance.MeetingPlayer;

/// <summary>The <c>meeting-player</c> command line: plays a recording into the daemon and prints what comes back.</summary>
internal static class PlayerCli
{
    public static Task<int> InvokeAsync(string[] args, CancellationToken cancellationToken = default) =>
        Build().Parse(args).InvokeAsync(cancellationToken: cancellationToken);

    internal static RootCommand Build()
    {
        var file = new Argument<FileInfo>("file") { Description = "WAV or MP3 recording to play (Ogg Opus works too)" };
        var host = new Option<string>("--host") { Description = "MQTT broker host", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "MQTT broker port", DefaultValueFactory = _ => 1883 };
        var device = new Option<string>("--device") { Description = "Device id of the daemon", DefaultValueFactory = _ => "dev-x64" };
        var session = new Option<string?>("--session") { Description = "Meeting session id (default meeting-yyyyMMdd-HHmmss)" };
        var codec = new Option<string>("--codec") { Description = "Frame codec", DefaultValueFactory = _ => "opus" };
        codec.AcceptOnlyFromAmong("opus", "pcm");
        var rate = new Option<int?>("--rate") { Description = "Sample rate on the wire, 16000 or 48000 (default 48000 for opus, 16000 for pcm)" };
        var frameMs = new Option<int>("--frame-ms") { Description = "Frame length in ms", DefaultValueFactory = _ => 20 };
        var speed = new Option<double>("--speed") { Description = "1 = real time, 4 = four times faster, 0 = as fast as possible", DefaultValueFactory = _ => 1.0 };
        var loss = new Option<double>("--loss") { Description = "Chance that a frame is lost (0..1)", DefaultValueFactory = _ => 0 };
        var duplicate = new Option<double>("--duplicate") { Description = "Chance that a frame is sent twice (0..1)", DefaultValueFactory = _ => 0 };
        var reorder = new Option<double>("--reorder") { Description = "Chance that a frame swaps with one of the next 3 (0..1)", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the simulated loss, duplication and reordering", DefaultValueFactory = _ => 1 };
        var language = new Option<string>("--language") { Description = "Spoken language", DefaultValueFactory = _ => "en" };
        var participants = new Option<string[]>("--participant") { Description = "A participant's name (repeat for more)", AllowMultipleArgumentsPerToken = false };
        var username = new Option<string?>("--username") { Description = "MQTT user name" };
        var password = new Option<string?>("--password") { Description = "MQTT password" };
        var summaryTimeout = new Option<double>("--summary-timeout") { Description = "Seconds to wait for the summary after stop", DefaultValueFactory = _ => 600 };

        var root = new RootCommand("Plays a WAV or MP3 recording into the appliance daemon as earbuds would (MQTT 5), and prints the live transcript and the final summary")
        {
            file, host, port, device, session, codec, rate, frameMs, speed, loss, duplicate, reorder, seed, language, participants, username, password, summaryTimeout,
        };
        root.SetAction((parse, cancellationToken) =>
        {
            var settings = new PlayerSettings
            {
                File = parse.GetValue(file)!,
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                DeviceId = parse.GetValue(device)!,
                SessionId = parse.GetValue(session) ?? MeetingStreamer.NewSessionId(),
                Username = parse.GetValue(username),
                Password = parse.GetValue(password),
                SummaryTimeout = TimeSpan.FromSeconds(parse.GetValue(summaryTimeout)),
                Stream = new MeetingStreamOptions
                {
                    Codec = parse.GetValue(codec) == "pcm" ? MeetingCodec.PcmS16LE : MeetingCodec.Opus,
                    SampleRate = parse.GetValue(rate),
                    FrameMs = parse.GetValue(frameMs),
                    Speed = parse.GetValue(speed),
                    LossRate = parse.GetValue(loss),
                    DuplicateRate = parse.GetValue(duplicate),
                    ReorderRate = parse.GetValue(reorder),
                    Seed = parse.GetValue(seed),
                    Language = parse.GetValue(language)!,
                    Participants = parse.GetValue(participants) ?? [],
                },
            };
            return new Player(AnsiConsole.Console, TimeProvider.System).RunAsync(settings, cancellationToken);
        });
        return root;
    }
}

internal sealed record PlayerSettings
{
    public required FileInfo File { get; init; }
    public required string Host { get; init; }
    public int Port { get; init; }
    public required string DeviceId { get; init; }
    public required string SessionId { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public TimeSpan SummaryTimeout { get; init; }
    public required MeetingStreamOptions Stream { get; init; }
}

/// <summary>One run of the tool: 0 when the summary arrived, 1 on any error or timeout (with a message saying which).</summary>
internal sealed class Player(IAnsiConsole console, TimeProvider time)
{
    private readonly ConsoleView _view = new(console, time);

    public async Task<int> RunAsync(PlayerSettings settings, CancellationToken cancellationToken)
    {
        if (settings.Stream.Validate() is { } problem)
        {
            _view.Error(problem);
            return 1;
        }

        if (settings.SummaryTimeout <= TimeSpan.Zero)
        {
            _view.Error("--summary-timeout must be positive.");
            return 1;
        }

        if (!Identifiers.IsValidDeviceId(settings.DeviceId) || !Identifiers.IsValidSessionId(settings.SessionId))
        {
            _view.Error($"'{settings.DeviceId}' / '{settings.SessionId}' is not a usable device id ({Identifiers.DeviceIdDescription}) / session id ({Identifiers.SessionIdDescription}).");
            return 1;
        }

        AudioReadResult read;
        try
        {
            read = AudioFile.ReadMono16k(settings.File.FullName);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _view.Error($"Cannot read {settings.File.FullName}: {ex.Message}");
            return 1;
        }

        if (read.Audio is not { } audio)
        {
            _view.Error($"Cannot play {settings.File.FullName}: {read.Error}: {read.Message}");
            return 1;
        }

        _view.Info(string.Create(CultureInfo.InvariantCulture,
            $"[bold]{Markup.Escape(settings.File.Name)}[/]: {audio.Duration.TotalSeconds:0.0} s → device [bold]{Markup.Escape(settings.DeviceId)}[/], session [bold]{Markup.Escape(settings.SessionId)}[/], {settings.Stream.Codec.Name()} {settings.Stream.EffectiveSampleRate} Hz, {settings.Stream.FrameMs} ms frames, speed {(settings.Stream.Speed == 0 ? "max" : settings.Stream.Speed.ToString("0.##", CultureInfo.InvariantCulture))}"));

        ApplianceClient client;
        try
        {
            client = await ApplianceClient.ConnectAsync(
                new ApplianceClientOptions { Host = settings.Host, Port = settings.Port, DeviceId = settings.DeviceId, Username = settings.Username, Password = settings.Password },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException or System.Net.Sockets.SocketException)
        {
            _view.Error($"Cannot connect to the MQTT broker at {settings.Host}:{settings.Port}: {ex.Message}");
            return 1;
        }

        await using (client.ConfigureAwait(false))
        {
            var streamer = new MeetingStreamer(client, time);
            {
                try
                {
                    return await PlayAsync(streamer, audio.Samples, settings, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    _view.Error("Cancelled.");
                    return 1;
                }
                catch (Exception ex) when (ex is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
                {
                    _view.Error(ex.Message);
                    return 1;
                }
            }
        }
    }

    private async Task<int> PlayAsync(MeetingStreamer streamer, float[] samples, PlayerSettings settings, CancellationToken cancellationToken)
    {
        var subscription = await streamer.SubscribeAsync(settings.SessionId, cancellationToken).ConfigureAwait(false);
        await using (subscription.ConfigureAwait(false))
        {
            using var listening = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var ending = new TaskCompletionSource<Ending>(TaskCreationOptions.RunContinuationsAsynchronously);
            var stopSent = 0;
            var listener = ListenAsync(subscription, ending, () => Volatile.Read(ref stopSent) == 1, listening.Token);
            try
            {
                var result = await streamer.StreamAsync(settings.SessionId, samples, settings.Stream, new SynchronousProgress(_view.Streaming), cancellationToken).ConfigureAwait(false);
                if (result.StartReply.Error is { } startError)
                {
                    _view.Error($"The daemon refused to start the meeting: {startError.Code}: {startError.Message}");
                    return 1;
                }

                Volatile.Write(ref stopSent, 1);
                _view.Counts(result.Counts!);
                if (result.StopReply!.Value.Error is { } stopError)
                {
                    _view.Error($"The daemon refused to stop the meeting: {stopError.Code}: {stopError.Message}");
                    return 1;
                }

                _view.Info("[grey]stop sent; waiting for the transcript to finish and the summary…[/]");
                var stopped = time.GetTimestamp();
                Ending end;
                try
                {
                    end = await ending.Task.WaitAsync(settings.SummaryTimeout, time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    _view.FinalTranscript();
                    _view.Error($"No summary within {settings.SummaryTimeout.TotalSeconds:0} s after stop (--summary-timeout).");
                    return 1;
                }

                _view.FinalTranscript();
                if (end.Summary is { } summary)
                {
                    _view.Summary(summary);
                    _view.Counts(result.Counts!);
                    _view.Info(string.Create(CultureInfo.InvariantCulture, $"[grey]summary arrived {time.GetElapsedTime(stopped).TotalSeconds:0.0} s after the stop was confirmed[/]"));
                    return 0;
                }

                _view.Error(end.Failure ?? "The meeting ended without a summary.");
                return 1;
            }
            finally
            {
                await listening.CancelAsync().ConfigureAwait(false);
                await listener.ConfigureAwait(false);
            }
        }
    }

    private async Task ListenAsync(MeetingSubscription subscription, TaskCompletionSource<Ending> ending, Func<bool> stopSent, CancellationToken cancellationToken)
    {
        await foreach (var meetingEvent in subscription.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            switch (meetingEvent)
            {
                case TranscriptEvent t:
                    _view.Transcript(t.Segment);
                    break;
                case ProgressEvent p:
                    _view.Progress(p.Progress);
                    if (p.Progress.State is MeetingPhase.Failed or MeetingPhase.Aborted)
                    {
                        var detail = p.Progress.Error is { } error ? $": {error.Code}: {error.Message}" : "";
                        ending.TrySetResult(new Ending(null, $"The daemon reports the meeting {ContractJson.WireName(p.Progress.State)}{detail}."));
                    }

                    break;
                case SummaryEvent s when !stopSent() && s.Message.Retain:
                    _view.Warning("Ignoring a retained summary left by an earlier run of this session id.");
                    break;
                case SummaryEvent s:
                    ending.TrySetResult(new Ending(s.Summary, null));
                    break;
                case MalformedEvent m:
                    _view.Warning($"Unreadable message on {m.Message.Topic}: {m.Reason}");
                    break;
            }
        }
    }

    private sealed record Ending(MeetingSummary? Summary, string? Failure);

    /// <summary>Reports on the caller's thread (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class SynchronousProgress(Action<MeetingStreamCounts> report) : IProgress<MeetingStreamCounts>
    {
        public void Report(MeetingStreamCounts value) => report(value);
    }
}
