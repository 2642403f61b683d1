using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Status;
using Appliance.Hardware;
using Appliance.Speech.Vad;
using Appliance.Speech.WakeWord;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Listens to the microphone: downmix and resample to 16 kHz, then voice activity detection and the wake word,
/// published on <c>voice/events</c> as <c>speech_started</c>, <c>speech_ended</c> and <c>wake_word</c> with the
/// wall-clock time and the position in the audio stream (<c>audioTime</c>, seconds since listening began).
/// </summary>
internal sealed class VoicePipeline(
    IMicrophone microphone,
    SpeechHost speech,
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
        var resampler = microphone.SampleRate == AudioFile.Mono16kRate ? null : new Resampler(microphone.SampleRate, AudioFile.Mono16kRate);
        health.Report("microphone", HealthMonitor.Ok, $"{microphone.GetType().Name} at {microphone.SampleRate} Hz, {microphone.Channels} channel(s); VAD {vadDetector.Kind}; wake word {(wakeDetector is null ? "off" : wakeDetector.WakeWord)}");
        long speechStart = -1;
        await foreach (var chunk in microphone.CaptureAsync(stoppingToken).ConfigureAwait(false))
        {
            var mono = Mono16k(chunk, resampler);
            foreach (var e in vadDetector.Process(mono))
            {
                if (e.Kind == VadEventKind.SpeechStart)
                {
                    speechStart = e.Sample;
                    await PublishAsync(new { type = "speech_started", at = time.GetUtcNow(), audioTime = Seconds(e.Sample) }).ConfigureAwait(false);
                }
                else
                {
                    await PublishAsync(new { type = "speech_ended", at = time.GetUtcNow(), audioTime = Seconds(e.Sample), durationSeconds = speechStart < 0 ? 0 : Seconds(e.Sample - speechStart) }).ConfigureAwait(false);
                }
            }

            if (wakeDetector is not null)
            {
                foreach (var detection in wakeDetector.Process(mono))
                {
                    Log.WakeWord(logger, wakeDetector.WakeWord, detection.Score);
                    await PublishAsync(new { type = "wake_word", word = wakeDetector.WakeWord, score = Math.Round(detection.Score, 3), at = time.GetUtcNow(), audioTime = Seconds(detection.Sample) }).ConfigureAwait(false);
                }
            }
        }

        if (microphone.Problem is { } problem)
        {
            Log.MicrophoneStopped(logger, problem);
            health.Report("microphone", HealthMonitor.Degraded, problem);
        }
    }

    private static double Seconds(long samples) => Math.Round(samples / (double)AudioFile.Mono16kRate, 3);

    private float[] Mono16k(float[] interleaved, Resampler? resampler)
    {
        var channels = microphone.Channels;
        var mono = channels == 1 ? interleaved : new float[interleaved.Length / channels];
        if (channels > 1)
        {
            for (var i = 0; i < mono.Length; i++)
            {
                var sum = 0f;
                for (var c = 0; c < channels; c++)
                {
                    sum += interleaved[(i * channels) + c];
                }

                mono[i] = sum / channels;
            }
        }

        if (resampler is null)
        {
            return mono;
        }

        var output = new float[resampler.GetMaxOutputLength(mono.Length)];
        return output[..resampler.Process(mono, output)];
    }

    private Task<bool> PublishAsync(object body) =>
        mqtt.TryPublishJsonAsync(Topics.VoiceEvents(device.DeviceId), body, MqttQualityOfServiceLevel.AtLeastOnce, retain: false, CancellationToken.None);
}
