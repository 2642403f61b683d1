using Microsoft.Extensions.Logging;

namespace Appliance.Meetings;

/// <summary>The meeting pipeline's log messages; event ids 6000–6099 are Appliance.Meetings' and do not change.</summary>
internal static partial class Log
{
    [LoggerMessage(6000, LogLevel.Information, "Meeting {SessionId} resumed after a restart: {Accepted} frames in its journal, stop pending {StopPending}")]
    public static partial void MeetingResumed(ILogger logger, string sessionId, long accepted, bool stopPending);

    [LoggerMessage(6001, LogLevel.Information, "Meeting {SessionId} completed; summary from {Source}")]
    public static partial void MeetingCompleted(ILogger logger, string sessionId, SummarySource source);

    [LoggerMessage(6002, LogLevel.Warning, "Meeting {SessionId}: extractive summary instead of the model's ({Reason})")]
    public static partial void SummaryFallback(ILogger logger, string sessionId, string reason);

    [LoggerMessage(6003, LogLevel.Error, "Meeting {SessionId} failed; its audio stays in the journal and a restart tries it again")]
    public static partial void MeetingFailed(ILogger logger, string sessionId, Exception error);

    [LoggerMessage(6004, LogLevel.Warning, "Meeting folder skipped at start-up, left on disk: {Problem}")]
    public static partial void SessionSkipped(ILogger logger, string problem);

    [LoggerMessage(6005, LogLevel.Error, "Meeting {SessionId}: the summary could not be stored ({Result}); the meeting stays open for a restart")]
    public static partial void SummaryNotStored(ILogger logger, string sessionId, MeetingResult result);

    [LoggerMessage(6006, LogLevel.Warning, "Meeting {SessionId}: summarizing ahead stopped; the summary at stop maps the whole transcript")]
    public static partial void PreparationFailed(ILogger logger, string sessionId, Exception error);

    [LoggerMessage(6007, LogLevel.Warning, "Meeting {SessionId}: its {Journal} journal ended in {Damage} at restart; {BytesDropped} bytes dropped from its tail, {RecordsKept} records before them kept")]
    public static partial void JournalRepaired(ILogger logger, string sessionId, string journal, JournalDamage damage, long bytesDropped, long recordsKept);

    [LoggerMessage(6008, LogLevel.Warning, "Meeting state file repaired at start-up: {Repair}")]
    public static partial void StateFileRepaired(ILogger logger, string repair);
}
