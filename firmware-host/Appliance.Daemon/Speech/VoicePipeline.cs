using System.Buffers;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Hardware;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Listens to the microphone: converted to 16 kHz mono, then voice activity detection and the wake word, published on
/// <c>voice/events</c> as speech started, speech ended and wake word, with the wall-clock time and the position in the
/// audio stream (<c>audioTime</c>, seconds since listening began).
/// </summary>
internal sealed class VoicePipeline(
    IMicrophone microphone,
    SpeechModels speech,
    MqttConnection mqtt,
    DeviceContext device,
    HealthMonitor health,
    TimeProvider time,
    ILogger<VoicePipeline> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await speech.Ready.WaitAsync(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        var vad = speech.CreateVad();
        var wake = speech.CreateWakeWord();
        using var vadDetector = vad.Detector;
        using var wakeDetector = wake.Value;
        var converter = new Mono16kConverter(microphone.SampleRate, microphone.Channels);
        var mono = new ArrayBufferWriter<float>();
        health.Report("microphone", HealthStatus.Ok, $"{microphone.GetType().Name} at {microphone.SampleRate} Hz, {microphone.Channels} channel(s); VAD {vadDetector.Kind}; wake word {(wakeDetector is null ? "off" : wakeDetector.WakeWord)}");
        long speechStart = -1;
        long droppedReported = 0;
        await foreach (var chunk in microphone.CaptureAsync(stoppingToken).ConfigureAwait(false))
        {
            mono.Clear();
            converter.PushSamples(chunk, mono);
            foreach (var e in vadDetector.Process(mono.WrittenSpan))
            {
                if (e.Kind == VadEventKind.SpeechStart)
                {
                    speechStart = e.Sample;
                    await PublishAsync(new SpeechStartedEvent { At = time.GetUtcNow(), AudioTime = Seconds(e.Sample) }, stoppingToken).ConfigureAwait(false);
                }
                else
                {
                    await PublishAsync(new SpeechEndedEvent { At = time.GetUtcNow(), AudioTime = Seconds(e.Sample), DurationSeconds = speechStart < 0 ? 0 : Seconds(e.Sample - speechStart) }, stoppingToken).ConfigureAwait(false);
                }
            }

            if (wakeDetector is not null)
            {
                foreach (var detection in wakeDetector.Process(mono.WrittenSpan))
                {
                    SpeechLog.WakeWord(logger, wakeDetector.WakeWord, detection.Score);
                    await PublishAsync(new WakeWordEvent { Word = wakeDetector.WakeWord, Score = Math.Round(detection.Score, 3), At = time.GetUtcNow(), AudioTime = Seconds(detection.Sample) }, stoppingToken).ConfigureAwait(false);
                }
            }

            if (microphone.DroppedSamples > droppedReported)
            {
                droppedReported = microphone.DroppedSamples;
                SpeechLog.MicrophoneOverrun(logger, droppedReported);
            }
        }

        if (microphone.Problem is { } problem)
        {
            SpeechLog.MicrophoneStopped(logger, problem);
            health.Report("microphone", HealthStatus.Degraded, problem);
        }
    }

    private static double Seconds(long samples) => Math.Round(SpeechAudio.Seconds(samples), 3);

    private Task<bool> PublishAsync(VoiceEvent body, CancellationToken cancellationToken) =>
        mqtt.TryPublishAsync(Channels.VoiceEvents, Topics.VoiceEvents(device.DeviceId), body, cancellationToken);
}
