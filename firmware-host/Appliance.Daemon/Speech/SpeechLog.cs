using Microsoft.Extensions.Logging;

namespace Appliance.Daemon.Speech;

/// <summary>The speech feature's log messages.</summary>
internal static partial class SpeechLog
{
    [LoggerMessage(4004, LogLevel.Information, "Wake word {Word} heard (score {Score})")]
    public static partial void WakeWord(ILogger logger, string word, float score);

    [LoggerMessage(4005, LogLevel.Warning, "Microphone capture stopped: {Problem}")]
    public static partial void MicrophoneStopped(ILogger logger, string problem);

    [LoggerMessage(4006, LogLevel.Warning, "Microphone: {Dropped} samples of audio dropped so far because the pipeline fell behind")]
    public static partial void MicrophoneOverrun(ILogger logger, long dropped);
}
