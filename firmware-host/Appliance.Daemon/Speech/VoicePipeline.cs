using System.Buffers;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Daemon.Device;
using Appliance.Daemon.Mqtt;
using Appliance.Daemon.Voice;
using Appliance.Hardware;
using Appliance.Speech;
using Appliance.Speech.Vad;
using Appliance.Voice;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Speech;

/// <summary>
/// Listens to the microphone: converted to 16 kHz mono, then voice activity detection and the wake word, published on
/// <c>voice/events</c> as speech started, speech ended and wake word, with the wall-clock time and the position in the
/// audio stream (<c>audioTime</c>, seconds since listening began). When the profile has voice commands, the wake word
/// or a press of the push-to-talk button starts a spoken command: end-pointed by voice activity (the profile's
/// trailing silence and longest utterance) or by the button's release, then transcribed and interpreted by
/// <see cref="VoiceCommands"/> while listening goes on. Either trigger also cuts off a spoken reply that is playing
/// (barge-in), and so does a stop phrase said while it plays: speech that starts during a reply is end-pointed (at most
/// <see cref="HeardDuringReplyLimit"/>) and transcribed, and only a stop phrase is acted on.
/// </summary>
internal sealed class VoicePipeline(
    IMicrophone microphone,
    SpeechModels speech,
    VoiceCommands commands,
    SpokenReplies replies,
    Hardware.BoardHardware board,
    MqttConnection mqtt,
    DeviceContext device,
    HealthMonitor health,
    TimeProvider time,
    ILogger<VoicePipeline> logger) : BackgroundService
{
    /// <summary>The longest speech heard during a reply that is checked for a stop phrase.</summary>
    private static readonly TimeSpan HeardDuringReplyLimit = TimeSpan.FromSeconds(3);

    private readonly List<Task> _spoken = [];
    private int _buttonPressed; // 1 after a press not yet seen by the microphone loop
    private int _buttonReleased; // 1 after a release not yet seen by the microphone loop

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
        long speechStart = -1;
        long droppedReported = 0;
        long position = 0; // stream position of the chunk's first sample, at 16 kHz
        var speaking = false;
        Endpointer? command = null;
        Endpointer? duringReply = null; // speech that began while a reply played: a stop phrase cuts the reply off
        long duringReplyOf = 0; // the reply that was playing then
        var recent = new RecentAudio(SpeechAudio.SampleRate); // the VAD reports a start some 250 ms into the speech
        var heldToTalk = false; // the command in progress was started by the button, so its release ends it
        if (board.PushToTalk is { } button)
        {
            button.Closed += OnButtonPressed;
            button.Opened += OnButtonReleased;
        }

        // Only now is a press of the button heard: the check says "listening" once it is.
        health.Report("microphone", HealthStatus.Ok, $"{microphone.GetType().Name} at {microphone.SampleRate} Hz, {microphone.Channels} channel(s); VAD {vadDetector.Kind}; wake word {(wakeDetector is null ? "off" : wakeDetector.WakeWord)}");

        try
        {
            await foreach (var chunk in microphone.CaptureAsync(stoppingToken).ConfigureAwait(false))
            {
                mono.Clear();
                converter.PushSamples(chunk, mono);
                var activity = vadDetector.Process(mono.WrittenSpan).ToList();
                foreach (var e in activity)
                {
                    speaking = e.Kind == VadEventKind.SpeechStart;
                    if (e.Kind == VadEventKind.SpeechStart)
                    {
                        speechStart = e.Sample;
                        if (command is null && duringReply is null && replies.IsPlaying && commands.Interpreter is { } listening)
                        {
                            // From where the speech began, as far as the audio kept reaches back.
                            var (earlier, from) = recent.Since(e.Sample);
                            duringReply = new Endpointer(from, speechInProgress: true, TimeSpan.FromMilliseconds(listening.Schema.TrailingSilenceMs), HeardDuringReplyLimit);
                            duringReply.Push(earlier, from, []);
                            duringReplyOf = replies.CurrentReply;
                        }

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
                        replies.BargeIn();
                        duringReply = null; // the wake word has cut the reply off already
                        if (command is null && commands.Interpreter is { } interpreter)
                        {
                            var schema = interpreter.Schema;
                            command = new Endpointer(detection.Sample, speaking, TimeSpan.FromMilliseconds(schema.TrailingSilenceMs), TimeSpan.FromSeconds(schema.MaxUtteranceSeconds));
                            heldToTalk = false;
                        }
                    }
                }

                if (Interlocked.Exchange(ref _buttonPressed, 0) == 1 && command is null && commands.Interpreter is { } byButton)
                {
                    // Held to talk: the command starts with this audio, and the release (or end-pointing) ends it.
                    duringReply = null; // the press has cut the reply off already
                    command = new Endpointer(position, speaking, TimeSpan.FromMilliseconds(byButton.Schema.TrailingSilenceMs), TimeSpan.FromSeconds(byButton.Schema.MaxUtteranceSeconds));
                    heldToTalk = true;
                }

                if (Interlocked.Exchange(ref _buttonReleased, 0) == 1 && command is not null && heldToTalk)
                {
                    command.Push(mono.WrittenSpan, position, activity);
                    command.Stop();
                }

                if (command is not null && command.Push(mono.WrittenSpan, position, activity))
                {
                    if (command.HeardSpeech)
                    {
                        Interpret(command.Utterance, stoppingToken);
                    }

                    command = null;
                }

                if (duringReply is not null && duringReply.Push(mono.WrittenSpan, position, activity))
                {
                    Track(StopIfAskedAsync(duringReply.Utterance, duringReplyOf, stoppingToken));
                    duringReply = null;
                }

                recent.Append(mono.WrittenSpan, position);
                position += mono.WrittenCount;

                if (microphone.DroppedSamples > droppedReported)
                {
                    droppedReported = microphone.DroppedSamples;
                    SpeechLog.MicrophoneOverrun(logger, droppedReported);
                }
            }
        }
        finally
        {
            if (board.PushToTalk is { } pushToTalk)
            {
                pushToTalk.Closed -= OnButtonPressed;
                pushToTalk.Opened -= OnButtonReleased;
            }
        }

        if (microphone.Problem is { } problem)
        {
            SpeechLog.MicrophoneStopped(logger, problem);
            health.Report("microphone", HealthStatus.Degraded, problem);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        Task[] inFlight;
        lock (_spoken)
        {
            inFlight = [.. _spoken];
        }

        await Task.WhenAll(inFlight).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void OnButtonPressed(object? sender, EventArgs e)
    {
        Interlocked.Exchange(ref _buttonPressed, 1);
        replies.BargeIn(); // at once: the loop only sees the press with the next audio
    }

    private void OnButtonReleased(object? sender, EventArgs e) => Interlocked.Exchange(ref _buttonReleased, 1);

    /// <summary>Hands a spoken command to <see cref="VoiceCommands"/> and goes on listening; the work is awaited at stop.</summary>
    private void Interpret(float[] utterance, CancellationToken stoppingToken) => Track(InterpretAsync(utterance, stoppingToken));

    /// <summary>Keeps <paramref name="work"/> started from the microphone loop, to await it at stop.</summary>
    private void Track(Task work)
    {
        lock (_spoken)
        {
            _spoken.RemoveAll(t => t.IsCompleted);
            _spoken.Add(work);
        }
    }

    /// <summary>Cuts <paramref name="reply"/> off, if it still plays, when what was heard during it is a stop phrase.</summary>
    private async Task StopIfAskedAsync(float[] heard, long reply, CancellationToken stoppingToken)
    {
        try
        {
            if (await commands.IsSpokenStopAsync(heard, stoppingToken).ConfigureAwait(false))
            {
                replies.BargeIn(onlyReply: reply);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private async Task InterpretAsync(float[] utterance, CancellationToken stoppingToken)
    {
        try
        {
            await commands.InterpretSpokenAsync(utterance, speech.Transcription.Language, stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: the command in progress is dropped, as a person's unfinished sentence would be.
        }
    }

    private static double Seconds(long samples) => Math.Round(SpeechAudio.Seconds(samples), 3);

    /// <summary>The microphone's last <c>capacity</c> samples (16 kHz mono) by stream position. Not thread-safe: the microphone loop owns it.</summary>
    private sealed class RecentAudio(int capacity)
    {
        private readonly float[] _ring = new float[capacity];
        private long _end; // the stream position after the last sample kept

        public void Append(ReadOnlySpan<float> samples, long position)
        {
            for (var i = 0; i < samples.Length; i++)
            {
                _ring[(position + i) % _ring.Length] = samples[i];
            }

            _end = position + samples.Length;
        }

        /// <summary>The audio kept from <paramref name="start"/> (or from the oldest kept) to the last sample, and the stream position of its first sample.</summary>
        public (float[] Samples, long From) Since(long start)
        {
            var from = Math.Clamp(start, Math.Max(0, _end - _ring.Length), _end);
            var samples = new float[_end - from];
            for (var i = 0; i < samples.Length; i++)
            {
                samples[i] = _ring[(from + i) % _ring.Length];
            }

            return (samples, from);
        }
    }

    private Task<bool> PublishAsync(VoiceEvent body, CancellationToken cancellationToken) =>
        mqtt.TryPublishAsync(Channels.VoiceEvents, Topics.VoiceEvents(device.DeviceId), body, cancellationToken);
}
