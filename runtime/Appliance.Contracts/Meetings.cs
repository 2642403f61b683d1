using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Contracts;

/// <summary>
/// A command on a meeting's control topic (<c>…/meetings/{sessionId}/control</c>). It is the RPC method
/// <c>meetings.{action}</c> with the session id taken from the topic: <see cref="ToRequest"/> turns it into that call.
/// </summary>
public sealed record MeetingControl
{
    /// <summary><c>start</c>, <c>stop</c> or <c>abort</c>.</summary>
    public string? Action { get; init; }

    /// <summary>start: the codec of every frame (see <see cref="AudioCodecs"/>).</summary>
    public string? Codec { get; init; }

    /// <summary>start: samples per second.</summary>
    public int? SampleRate { get; init; }

    /// <summary>start: channels per frame; 1 when null.</summary>
    public int? Channels { get; init; }

    /// <summary>start: the meeting's language (BCP 47); detected per utterance when null.</summary>
    public string? Language { get; init; }

    /// <summary>start: the participants' names.</summary>
    public IReadOnlyList<string>? Participants { get; init; }

    /// <summary>stop: the <c>seq</c> of the last frame sent; the stop waits up to 2 s for it, and the frames up to it that never arrived are a gap.</summary>
    public long? LastSequence { get; init; }

    /// <summary>The RPC call this command stands for, or null when <see cref="Action"/> is none of the three.</summary>
    /// <param name="sessionId">The session id level of the control topic.</param>
    /// <returns>The method name and its parameters as JSON.</returns>
    public (string Method, JsonElement Params)? ToRequest(string sessionId) => Action switch
    {
        "start" => (RpcMethods.MeetingsStart.Name, RpcMethods.MeetingsStart.SerializeParams(new MeetingStartParams
        {
            SessionId = sessionId,
            Codec = Codec,
            SampleRate = SampleRate,
            Channels = Channels,
            Language = Language,
            Participants = Participants,
        })),
        "stop" => (RpcMethods.MeetingsStop.Name, RpcMethods.MeetingsStop.SerializeParams(new MeetingStopParams { SessionId = sessionId, LastSequence = LastSequence })),
        "abort" => (RpcMethods.MeetingsAbort.Name, RpcMethods.MeetingsAbort.SerializeParams(new SessionIdParams { SessionId = sessionId })),
        _ => null,
    };
}

/// <summary>The parameters of <c>meetings.start</c>.</summary>
public sealed record MeetingStartParams
{
    /// <summary>The meeting, chosen by the client (see <see cref="Identifiers.IsValidSessionId"/>).</summary>
    public string? SessionId { get; init; }

    /// <summary>The codec of every frame (see <see cref="AudioCodecs"/>).</summary>
    public string? Codec { get; init; }

    /// <summary>Samples per second.</summary>
    public int? SampleRate { get; init; }

    /// <summary>Channels per frame; 1 when null.</summary>
    public int? Channels { get; init; }

    /// <summary>The meeting's language (BCP 47); detected per utterance when null.</summary>
    public string? Language { get; init; }

    /// <summary>The participants' names, used to attribute action items.</summary>
    public IReadOnlyList<string>? Participants { get; init; }

    /// <summary>The stored parameters of the session this start asks for.</summary>
    public MeetingParameters ToParameters() => new(Codec ?? "", SampleRate ?? 0, Channels ?? 1, Language, Participants ?? []);
}

/// <summary>The parameters of <c>meetings.stop</c>.</summary>
public sealed record MeetingStopParams
{
    /// <summary>The meeting.</summary>
    public string? SessionId { get; init; }

    /// <summary>The <c>seq</c> of the last frame sent; the stop waits up to 2 s for it, since audio (QoS 0) may be overtaken by the command (QoS 1), and the frames up to it that never arrived are a gap.</summary>
    public long? LastSequence { get; init; }
}

/// <summary>Parameters naming a meeting: <c>{"sessionId"}</c>.</summary>
public sealed record SessionIdParams
{
    /// <summary>The meeting.</summary>
    public string? SessionId { get; init; }
}

/// <summary>The result of <c>meetings.start</c>, <c>meetings.stop</c> and <c>meetings.abort</c>.</summary>
/// <param name="SessionId">The meeting.</param>
/// <param name="State">start: the meeting's phase (recording for a new one); stop: <see cref="MeetingPhase.Stopping"/>; abort: <see cref="MeetingPhase.Aborted"/>.</param>
/// <param name="Gaps">stop only: every run of frames that never arrived.</param>
public sealed record MeetingControlResult(string SessionId, MeetingPhase State, IReadOnlyList<SequenceGap>? Gaps = null);

/// <summary>Where a meeting stands, as control replies and progress events name it.</summary>
public enum MeetingPhase
{
    /// <summary>Audio is being taken.</summary>
    [JsonStringEnumMemberName("recording")]
    Recording,

    /// <summary>Stopped; the transcript is being finished.</summary>
    [JsonStringEnumMemberName("transcribing")]
    Transcribing,

    /// <summary>The summary is being made.</summary>
    [JsonStringEnumMemberName("summarizing")]
    Summarizing,

    /// <summary>The summary is published.</summary>
    [JsonStringEnumMemberName("completed")]
    Completed,

    /// <summary>Stopped on an unexpected error; the audio stays on disk and the next start of the daemon tries again.</summary>
    [JsonStringEnumMemberName("failed")]
    Failed,

    /// <summary>Abandoned by the client; no summary.</summary>
    [JsonStringEnumMemberName("aborted")]
    Aborted,

    /// <summary>The reply to stop: the transcript and summary are being finished.</summary>
    [JsonStringEnumMemberName("stopping")]
    Stopping,
}

/// <summary>
/// The parameters a session was started with, as stored and reported. Two starts of one session are the same start when
/// these are equal (participants compared in order).
/// </summary>
/// <param name="Codec">The audio codec of every frame.</param>
/// <param name="SampleRate">Samples per second.</param>
/// <param name="Channels">Channels per frame.</param>
/// <param name="LanguageHint">The meeting's language (BCP 47), or null.</param>
/// <param name="Participants">The participants' names; may be empty.</param>
/// <param name="Summary">Summary limits, or null for the defaults.</param>
public sealed record MeetingParameters(
    string Codec,
    int SampleRate,
    int Channels,
    string? LanguageHint,
    IReadOnlyList<string> Participants,
    SummaryOptions? Summary = null)
{
    /// <inheritdoc />
    public bool Equals(MeetingParameters? other) =>
        other is not null
        && string.Equals(Codec, other.Codec, StringComparison.Ordinal)
        && SampleRate == other.SampleRate
        && Channels == other.Channels
        && string.Equals(LanguageHint, other.LanguageHint, StringComparison.Ordinal)
        && (Participants ?? []).SequenceEqual(other.Participants ?? [], StringComparer.Ordinal)
        && Equals(Summary ?? new SummaryOptions(), other.Summary ?? new SummaryOptions());

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Codec, SampleRate, Channels, LanguageHint, Participants?.Count ?? 0);
}

/// <summary>Limits of the summary the client asked for.</summary>
/// <param name="MaxKeyPoints">At most this many key points.</param>
/// <param name="MaxSummarySentences">At most this many sentences in the prose summary.</param>
/// <param name="OutputLanguage">Language of the summary (BCP 47); null means the meeting's language.</param>
public sealed record SummaryOptions(int MaxKeyPoints = 5, int MaxSummarySentences = 3, string? OutputLanguage = null);

/// <summary>The life-cycle state of a session, as stored.</summary>
public enum MeetingState
{
    /// <summary>Accepting audio frames.</summary>
    [JsonStringEnumMemberName("open")]
    Open,

    /// <summary>Stop received and persisted; audio is closed, the transcript and summary are being finished.</summary>
    [JsonStringEnumMemberName("stopping")]
    Stopping,

    /// <summary>The summary is written; the session is kept until retention deletes it.</summary>
    [JsonStringEnumMemberName("completed")]
    Completed,

    /// <summary>Abandoned by the client; no summary will be made.</summary>
    [JsonStringEnumMemberName("aborted")]
    Aborted,
}

/// <summary>Frame counters of a session.</summary>
/// <param name="Accepted">Frames on disk (exact: from the journal).</param>
/// <param name="Duplicates">Frames received again and dropped.</param>
/// <param name="Late">Frames that came after their place was skipped as a gap.</param>
/// <param name="AfterStop">Frames that came after the stop.</param>
/// <param name="CodecMismatches">Frames with another codec than the start named.</param>
/// <param name="InvalidPayloads">Frames empty or over the size limit.</param>
/// <param name="StorageRefused">Frames that arrived but could not be written (a full or failing disk); they are also in
/// the gaps, since their audio is missing, but unlike the rest of the gaps they were not lost on the radio.</param>
/// <param name="SequenceRestarts">Times the device numbered its frames from 0 again after a repeated start (a reboot); its
/// new frames go on the timeline after the ones received before.</param>
public sealed record MeetingCounters(long Accepted, long Duplicates, long Late, long AfterStop, long CodecMismatches, long InvalidPayloads, long StorageRefused = 0, long SequenceRestarts = 0)
{
    /// <summary>Frames of the session received and dropped: late, after stop, wrong codec, bad payload.</summary>
    [JsonIgnore]
    public long Dropped => Late + AfterStop + CodecMismatches + InvalidPayloads;
}

/// <summary>A run of frame sequence numbers that never arrived: <c>{"fromSeq", "count"}</c>.</summary>
/// <param name="FromSequence">The first missing sequence number.</param>
/// <param name="Count">How many consecutive sequence numbers are missing.</param>
public readonly record struct SequenceGap(
    [property: JsonPropertyName("fromSeq")] long FromSequence,
    [property: JsonPropertyName("count")] long Count);

/// <summary>A session as <c>meetings.get</c> and <c>meetings.list</c> report it.</summary>
/// <param name="SessionId">The session.</param>
/// <param name="Parameters">Its start parameters.</param>
/// <param name="State">Its stored state.</param>
/// <param name="CreatedAt">When it started (UTC).</param>
/// <param name="StoppedAt">When the stop arrived, if it did.</param>
/// <param name="EndedAt">When it completed or was aborted.</param>
/// <param name="Counters">Accepted and dropped frames.</param>
/// <param name="Gaps">Frames that never arrived.</param>
/// <param name="ReleasedThrough">The last sequence number released in order (accepted or skipped as lost); -1 before any.</param>
/// <param name="TranscribedSeconds">How much of the meeting's audio the transcript covers, in seconds (rounded to 0.001).</param>
public sealed record MeetingInfo(
    string SessionId,
    MeetingParameters Parameters,
    MeetingState State,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StoppedAt,
    DateTimeOffset? EndedAt,
    MeetingCounters Counters,
    IReadOnlyList<SequenceGap> Gaps,
    long ReleasedThrough,
    double TranscribedSeconds);

/// <summary>
/// One transcript segment on <c>…/meetings/{sessionId}/transcript</c> and in <c>meetings.get</c>. A later segment with the
/// same <see cref="SegmentId"/> and a higher <see cref="Revision"/> replaces the earlier text.
/// </summary>
/// <param name="SegmentId"><c>t{start of the utterance in ms, 9 digits}-{n}</c>: stable across a restart.</param>
/// <param name="Revision">0 for the first text.</param>
/// <param name="Start">Seconds from the start of the meeting's audio.</param>
/// <param name="End">Seconds from the start of the meeting's audio.</param>
/// <param name="Text">The recognised text.</param>
/// <param name="Language">The segment's language: the one the start named, or the one detected.</param>
public sealed record TranscriptSegment(string SegmentId, int Revision, double Start, double End, string Text, string Language);

/// <summary>
/// A progress event on <c>…/meetings/{sessionId}/progress</c>. The frame counters and <see cref="TranscribedSeconds"/> come
/// with every event; the other fields with the phases and stages their docs name.
/// </summary>
public sealed record MeetingProgress
{
    /// <summary>Where the meeting stands.</summary>
    public required MeetingPhase State { get; init; }

    /// <summary>recording and transcribing: seconds of audio received in order, lost frames included.</summary>
    public double? ReceivedSeconds { get; init; }

    /// <summary>Seconds of audio whose utterances are transcribed.</summary>
    public double? TranscribedSeconds { get; init; }

    /// <summary>recording and transcribing: <see cref="TranscribedSeconds"/> as a share of <see cref="ReceivedSeconds"/>, 0 to 100.</summary>
    public double? PercentTranscribed { get; init; }

    /// <summary>summarizing only: the stage of the summary.</summary>
    public SummaryStage? Stage { get; init; }

    /// <summary>map and combine: the chunk being worked on, from 1.</summary>
    public int? Chunk { get; init; }

    /// <summary>map and combine: how many chunks there are.</summary>
    public int? Chunks { get; init; }

    /// <summary>map only: true when the chunk was already mapped while the meeting went on.</summary>
    public bool? Prepared { get; init; }

    /// <summary>combine only: the combining round, from 1 (at most 3).</summary>
    public int? Round { get; init; }

    /// <summary>reduce only: true when the answer is decoded under the summary's JSON schema (constrained decoding), as every reduce is.</summary>
    public bool? Constrained { get; init; }

    /// <summary>completed only: where the summary came from.</summary>
    public SummarySource? Source { get; init; }

    /// <summary>failed only: what went wrong.</summary>
    public RpcError? Error { get; init; }

    /// <summary>Frames received and on disk.</summary>
    public long? AcceptedFrames { get; init; }

    /// <summary>Frames received again and dropped.</summary>
    public long? Duplicates { get; init; }

    /// <summary>Frames that never arrived, so far (the gaps, less the frames refused for storage).</summary>
    public long? LostFrames { get; init; }

    /// <summary>Frames that arrived but could not be written: the disk is full or failing (the <c>storage</c> health check says which).</summary>
    public long? StorageRefusedFrames { get; init; }

    /// <summary>Frames of this meeting dropped: too late, after the stop, with another codec, or empty or too large.</summary>
    public long? DroppedFrames { get; init; }

    /// <summary>
    /// recording and transcribing: frames received and stored that the codec could not decode (corrupt); each is
    /// silence of a frame's length on the timeline.
    /// </summary>
    public long? UndecodableFrames { get; init; }

    /// <summary>When the event was made (UTC).</summary>
    public DateTimeOffset? At { get; init; }

    /// <summary>The meeting ended for good (completed, failed or aborted).</summary>
    [JsonIgnore]
    public bool IsTerminal => State is MeetingPhase.Completed or MeetingPhase.Failed or MeetingPhase.Aborted;
}

/// <summary>The stages of making a summary.</summary>
public enum SummaryStage
{
    /// <summary>A transcript chunk becomes notes.</summary>
    [JsonStringEnumMemberName("map")]
    Map,

    /// <summary>Notes that do not fit one prompt are combined.</summary>
    [JsonStringEnumMemberName("combine")]
    Combine,

    /// <summary>The notes become the summary.</summary>
    [JsonStringEnumMemberName("reduce")]
    Reduce,

    /// <summary>Sentences are picked from the transcript instead.</summary>
    [JsonStringEnumMemberName("extractive")]
    Extractive,
}

/// <summary>Who made a summary.</summary>
public enum SummarySource
{
    /// <summary>A language model wrote it.</summary>
    [JsonStringEnumMemberName("llm")]
    Llm,

    /// <summary>Sentences picked from the transcript, because no language model was available or it failed.</summary>
    [JsonStringEnumMemberName("extractive")]
    Extractive,
}

/// <summary>
/// The result of a meeting, retained on <c>…/meetings/{sessionId}/summary</c> and returned by <c>meetings.get</c>, valid
/// against the published <see cref="ContractSchemas.MeetingSummary"/>.
/// </summary>
/// <param name="Title">A short title.</param>
/// <param name="Summary">The prose summary.</param>
/// <param name="KeyPoints">Key points.</param>
/// <param name="Decisions">Decisions taken.</param>
/// <param name="ActionItems">Action items with owners.</param>
/// <param name="OpenQuestions">Questions left open.</param>
/// <param name="Language">BCP 47 tag; <c>und</c> when unknown.</param>
/// <param name="Gaps">Audio that never arrived.</param>
/// <param name="Source">Who made it.</param>
public sealed record MeetingSummary(
    string Title,
    string Summary,
    IReadOnlyList<string> KeyPoints,
    IReadOnlyList<string> Decisions,
    IReadOnlyList<ActionItem> ActionItems,
    IReadOnlyList<string> OpenQuestions,
    string Language,
    IReadOnlyList<SequenceGap> Gaps,
    SummarySource Source);

/// <summary>An action item of a summary.</summary>
/// <param name="Owner">Who does it; <c>unassigned</c> when nobody was named.</param>
/// <param name="Task">What is to be done.</param>
/// <param name="Due">The due date as said, or null.</param>
public sealed record ActionItem(string Owner, string Task, string? Due = null);

/// <summary>The result of <c>meetings.list</c>.</summary>
/// <param name="Meetings">Every meeting on the device, oldest first.</param>
/// <param name="DroppedFrames">Audio frames dropped before any session saw them (unknown session, no sequence number, the ingest queue full).</param>
public sealed record MeetingsListResult(IReadOnlyList<MeetingInfo> Meetings, long DroppedFrames);

/// <summary>The result of <c>meetings.get</c>.</summary>
/// <param name="Meeting">The meeting's state and counters.</param>
/// <param name="Transcript">The transcript so far, latest revision of each segment, by start.</param>
/// <param name="Summary">The summary, once completed.</param>
public sealed record MeetingsGetResult(MeetingInfo Meeting, IReadOnlyList<TranscriptSegment> Transcript, MeetingSummary? Summary);

/// <summary>The result of <c>meetings.delete</c>.</summary>
/// <param name="Deleted">The session removed with its audio, transcript and summary.</param>
public sealed record MeetingsDeleteResult(string Deleted);

/// <summary>JSON schemas the contract publishes beside its types.</summary>
public static class ContractSchemas
{
    /// <summary>The text of <c>meeting-summary.schema.json</c> (JSON Schema 2020-12), the schema of <see cref="Contracts.MeetingSummary"/>.</summary>
    public static string MeetingSummary { get; } = Load("meeting-summary.schema.json");

    private static string Load(string name)
    {
        using var stream = typeof(ContractSchemas).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"{name} is not embedded in {typeof(ContractSchemas).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
