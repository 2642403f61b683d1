using System.Threading.Channels;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Hardware;
using Appliance.Voice;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace Appliance.Daemon.Voice;

/// <summary>
/// Speaks voice replies when the profile's <c>commands.spokenReplies</c> asks for it: each reply is synthesized
/// (espeak-ng), published on <c>voice/tts</c> as Ogg Opus, and played on the output device when one is named. Replies
/// are spoken one at a time in the order they came, each played to its end, off the request's path (a reply never
/// delays its intent); the wake word, the push-to-talk button or a spoken stop phrase cuts the one playing off and
/// drops those waiting (<see cref="BargeIn"/>). Thread-safe.
/// </summary>
internal sealed class SpokenReplies : BackgroundService
{
    private readonly Channel<VoiceIntent> _queue = Channel.CreateBounded<VoiceIntent>(new BoundedChannelOptions(8) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly ISpeechSynthesizer? _synthesizer;
    private readonly MqttConnection _mqtt;
    private readonly DeviceContext _device;
    private readonly ILogger<SpokenReplies> _logger;
    private long _started; // replies that started playing
    private long _bargeIns;

    public SpokenReplies(DeviceContext device, MqttConnection mqtt, TimeProvider time, ILogger<SpokenReplies> logger)
    {
        _device = device;
        _mqtt = mqtt;
        _logger = logger;
        if (device.Profile.Commands?.SpokenReplies is { } settings)
        {
            _synthesizer = new EspeakNgSynthesizer(settings.Voices);
            Speaker = settings.OutputDevice switch
            {
                null => null,
                "simulated" => new SimulatedSpeaker(time),
                var alsa => new AlsaSpeaker(alsa),
            };
        }
    }

    /// <summary>The output device; null when replies are not played.</summary>
    public ISpeaker? Speaker { get; }

    /// <summary>Whether a reply is playing on the output device now (a spoken "stop" can cut it off).</summary>
    public bool IsPlaying => Speaker?.IsPlaying == true;

    /// <summary>The number of the reply playing now, or played last (1 for the first); 0 before any.</summary>
    public long CurrentReply => Interlocked.Read(ref _started);

    /// <summary>How many times the user has spoken over the replies (<see cref="BargeIn"/>); a reply decided before one is not said after it.</summary>
    public long BargeIns => Interlocked.Read(ref _bargeIns);

    /// <summary>Queues the reply of <paramref name="intent"/> to be spoken; does nothing when replies are not spoken.</summary>
    public void Say(VoiceIntent intent)
    {
        if (_synthesizer is not null)
        {
            _queue.Writer.TryWrite(intent);
        }
    }

    /// <summary>Cuts off the reply playing, if any (the user started speaking again), and drops those waiting.</summary>
    /// <param name="onlyReply">
    /// Only when this reply (a <see cref="CurrentReply"/> read before) is still the one playing: a stop phrase heard
    /// during one reply does not cut the next one off. Null acts whatever plays.
    /// </param>
    /// <returns>Whether a reply was cut off.</returns>
    public bool BargeIn(long? onlyReply = null)
    {
        if (onlyReply is { } reply && (reply != CurrentReply || !IsPlaying))
        {
            return false;
        }

        Interlocked.Increment(ref _bargeIns);
        while (_queue.Reader.TryRead(out _))
        {
            // Replies still waiting are for what came before the user spoke again: they are dropped too.
        }

        if (Speaker?.CutOff() == true)
        {
            VoiceLog.BargeIn(_logger);
            return true;
        }

        return false;
    }

    public override void Dispose()
    {
        Speaker?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_synthesizer is null)
        {
            return;
        }

        try
        {
            await foreach (var intent in _queue.Reader.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                await SpeakAsync(_synthesizer, intent, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: replies not yet spoken are dropped.
        }
    }

    private async Task SpeakAsync(ISpeechSynthesizer synthesizer, VoiceIntent intent, CancellationToken cancellationToken)
    {
        var speech = await synthesizer.SynthesizeAsync(intent.Reply, intent.Language, cancellationToken).ConfigureAwait(false);
        if (speech.Error is { } error)
        {
            VoiceLog.ReplyNotSpoken(_logger, intent.UtteranceId, error);
            return;
        }

        // Playing starts before the publication (the speaker takes the clip at once), so that a listener to voice/tts
        // hears of a reply no sooner than it plays; the next reply waits until this one has played.
        Interlocked.Increment(ref _started);
        var playing = Speaker?.PlayAsync(speech.Samples, cancellationToken);
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(Topics.VoiceTts(_device.DeviceId))
            .WithPayload(OggOpusWriter.FromMono16k(speech.Samples))
            .WithContentType("audio/ogg")
            .WithQualityOfServiceLevel(Channels.VoiceTts.Qos)
            .WithUserProperty(UserProperties.UtteranceId, System.Text.Encoding.UTF8.GetBytes(intent.UtteranceId).AsMemory())
            .WithUserProperty(UserProperties.Language, System.Text.Encoding.UTF8.GetBytes(intent.Language).AsMemory())
            .Build();
        if (!await _mqtt.TryPublishAsync(message, cancellationToken).ConfigureAwait(false))
        {
            VoiceLog.NotPublished(_logger, intent.UtteranceId, "voice/tts");
        }

        if (playing is not null && await playing.ConfigureAwait(false) is { } problem)
        {
            VoiceLog.ReplyNotSpoken(_logger, intent.UtteranceId, problem);
        }
    }
}
