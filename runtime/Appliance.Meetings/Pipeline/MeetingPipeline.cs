using System.Collections.Concurrent;
using Appliance.Speech;
using Microsoft.Extensions.Logging;

namespace Appliance.Meetings.Pipeline;

/// <summary>
/// Runs every meeting of the device from start to summary: for each open or stopping session one run, owned here, that
/// transcribes the journal as it grows (<see cref="MeetingTranscriber"/>), maps transcript chunks ahead with the summary
/// model, and after the stop makes the summary (<see cref="MeetingSummarizer"/>, or the extractive one), stores it and
/// publishes it. Start, stop, abort and delete are the meeting commands; <see cref="ResumeAll"/> picks up the sessions a
/// crash or power cut left open.
/// </summary>
/// <remarks>
/// <para>Threading: every public member may be called from any thread. Commands on different sessions run side by side.</para>
/// <para>Ownership: the pipeline owns the runs: <see cref="DisposeAsync"/> cancels and awaits them (the journals keep
/// everything for the next start). It does not own the store, the ingest queue or the speech models, which must outlive
/// it. A run that fails is logged, published as <c>failed</c> and listed in <see cref="Failures"/>.</para>
/// </remarks>
public sealed class MeetingPipeline : IAsyncDisposable
{
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(2);

    private readonly MeetingSessionManager _store;
    private readonly MeetingIngest _ingest;
    private readonly SpeechModels _speech;
    private readonly Func<SummaryModel?> _summaryModel;
    private readonly IMeetingEvents _events;
    private readonly MeetingProgressReporter _progress;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, SessionRun> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdown = new();
    private int _disposed;

    /// <summary>Creates the pipeline; nothing runs until <see cref="ResumeAll"/> or a start.</summary>
    /// <param name="store">The sessions on disk.</param>
    /// <param name="ingest">The ingest queue the audio arrives through; stops go through it too.</param>
    /// <param name="speech">The speech models (Whisper, VAD).</param>
    /// <param name="summaryModel">The summary model when it is loaded now, else null (then the summary is extractive).</param>
    /// <param name="events">Where transcript, progress and summaries go.</param>
    /// <param name="time">The clock of progress events and the stop's wait.</param>
    /// <param name="logger">The pipeline's log.</param>
    public MeetingPipeline(MeetingSessionManager store, MeetingIngest ingest, SpeechModels speech, Func<SummaryModel?> summaryModel, IMeetingEvents events, TimeProvider time, ILogger<MeetingPipeline> logger)
    {
        ArgumentNullException.ThrowIfNull(ingest);
        _store = store;
        _ingest = ingest;
        _speech = speech;
        _summaryModel = summaryModel;
        _events = events;
        _time = time;
        _logger = logger;
        _progress = new MeetingProgressReporter(store, events, time);
        ingest.SessionAdvanced += Wake;
    }

    /// <summary>Raised after <see cref="Failures"/> changes.</summary>
    public event Action? FailuresChanged;

    /// <summary>Meetings whose run failed, with the error, until they are deleted or run again.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    /// <summary>Resumes every session the store found open or stopping; call it once, at start-up.</summary>
    public void ResumeAll()
    {
        foreach (var skipped in _store.Recovery.Skipped)
        {
            Log.SessionSkipped(_logger, skipped);
        }

        foreach (var repair in _store.Recovery.StateRepairs)
        {
            Log.StateFileRepaired(_logger, repair);
        }

        foreach (var resumed in _store.Recovery.Resumed)
        {
            Log.MeetingResumed(_logger, resumed.SessionId, resumed.AcceptedFrames, resumed.StopPending);
            foreach (var (journal, recovery) in new[] { ("audio", resumed.AudioRecovery), ("transcript", resumed.TranscriptRecovery) }.Where(j => j.Item2.Damage != JournalDamage.None))
            {
                Log.JournalRepaired(_logger, resumed.SessionId, journal, recovery.Damage, recovery.BytesTruncated, recovery.RecordsKept);
            }

            // The run reads the journal from its start: audio before the transcript checkpoint is only decoded and
            // listened to (cheap), so utterances come out the same as before and only later ones go through Whisper.
            StartRun(resumed.SessionId);
        }
    }

    /// <summary>Starts a session, or confirms a repeated identical start.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="parameters">Its start parameters, already checked against the codecs the device decodes.</param>
    /// <param name="cancellationToken">Cancels the progress event.</param>
    /// <returns>The store's result: <see cref="MeetingResult.Ok"/> for a new session, <see cref="MeetingResult.AlreadyDone"/> for a repeat, or why not.</returns>
    public async Task<MeetingResult> StartAsync(string sessionId, MeetingParameters parameters, CancellationToken cancellationToken)
    {
        var result = _store.Start(sessionId, parameters);
        if (result == MeetingResult.AlreadyDone)
        {
            // A device that rebooted numbers from 0 again: a stop's last sequence number is of the new numbering.
            _ingest.Forget(sessionId);
        }

        if (result == MeetingResult.Ok)
        {
            try
            {
                // Announced before the run starts, so that "recording" is never published after the run's own events.
                await _progress.ReportAsync(sessionId, new MeetingProgress { State = MeetingPhase.Recording }, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                StartRun(sessionId);
            }
        }

        return result;
    }

    /// <summary>
    /// Stops a session behind the frames received before the stop (waiting up to 2 s for <paramref name="lastSequence"/>,
    /// since audio and commands may overtake each other); its run then finishes the transcript and the summary.
    /// </summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="lastSequence">The client's last frame, or null.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The store's outcome with every gap.</returns>
    /// <exception cref="OperationCanceledException">Cancelled, or shutting down.</exception>
    public Task<StopOutcome> StopAsync(string sessionId, long? lastSequence, CancellationToken cancellationToken) =>
        _ingest.StopAsync(sessionId, lastSequence, StopGrace, cancellationToken);

    /// <summary>Aborts a session: its run ends at once and no summary is made.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="cancellationToken">Cancels the progress event.</param>
    /// <returns>The store's result.</returns>
    public async Task<MeetingResult> AbortAsync(string sessionId, CancellationToken cancellationToken)
    {
        var result = _store.Abort(sessionId);
        await EndRunAsync(sessionId).ConfigureAwait(false);
        if (result is MeetingResult.Ok or MeetingResult.AlreadyDone)
        {
            await _progress.ReportAsync(sessionId, new MeetingProgress { State = MeetingPhase.Aborted }, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Deletes a session with its audio, transcript and summary; its run ends first.</summary>
    /// <param name="sessionId">The session.</param>
    /// <param name="cancellationToken">Cancels the clearing of the retained summary.</param>
    /// <returns>The store's result.</returns>
    public async Task<MeetingResult> DeleteAsync(string sessionId, CancellationToken cancellationToken)
    {
        await EndRunAsync(sessionId).ConfigureAwait(false);
        var result = _store.Delete(sessionId);
        if (result == MeetingResult.Ok)
        {
            await ForgetAsync(sessionId, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Deletes the completed and aborted sessions past their retention; call it periodically.</summary>
    /// <param name="cancellationToken">Cancels the clearing of retained summaries.</param>
    /// <returns>The sessions deleted.</returns>
    public async Task<IReadOnlyList<string>> DeleteExpiredAsync(CancellationToken cancellationToken)
    {
        var deleted = _store.DeleteExpired();
        foreach (var sessionId in deleted)
        {
            await ForgetAsync(sessionId, cancellationToken).ConfigureAwait(false);
        }

        return deleted;
    }

    /// <summary>Cancels every run and waits for them; the journals keep the meetings for the next start. Idempotent.</summary>
    /// <returns>A task that ends when every run has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _ingest.SessionAdvanced -= Wake;
        await _shutdown.CancelAsync().ConfigureAwait(false);
        foreach (var sessionId in _runs.Keys)
        {
            await EndRunAsync(sessionId).ConfigureAwait(false);
        }

        _shutdown.Dispose();
    }

    private void Wake(string sessionId)
    {
        if (_runs.TryGetValue(sessionId, out var run))
        {
            run.Transcriber.Wake();
        }
    }

    private async Task ForgetAsync(string sessionId, CancellationToken cancellationToken)
    {
        _ingest.Forget(sessionId);
        if (_failures.TryRemove(sessionId, out _))
        {
            FailuresChanged?.Invoke();
        }

        await _events.DeletedAsync(sessionId, cancellationToken).ConfigureAwait(false);
    }

    private void StartRun(string sessionId)
    {
        if (_store.Get(sessionId) is not { } info)
        {
            return;
        }

        var transcriber = new MeetingTranscriber(sessionId, info.Parameters, _store, _speech, _events, _progress, _time);
        var run = new SessionRun(sessionId, transcriber, CancellationTokenSource.CreateLinkedTokenSource(_shutdown.Token));
        if (!_runs.TryAdd(sessionId, run))
        {
            run.Cancel.Dispose();
            return;
        }

        if (_failures.TryRemove(sessionId, out _))
        {
            FailuresChanged?.Invoke();
        }

        transcriber.Transcribed += chars => Summarizer(run)?.Prepare(chars, () => _store.ReadTranscript(sessionId));
        run.Start(RunAsync(run));
    }

    /// <summary>Ends the session's run if it has one. Whoever takes a run out of the table ends it: that is done once.</summary>
    private async Task EndRunAsync(string sessionId)
    {
        if (_runs.TryRemove(sessionId, out var run))
        {
            await run.EndAsync().ConfigureAwait(false);
        }
    }

    /// <summary>One session from its (re)start to its summary; ends early when cancelled.</summary>
    private async Task RunAsync(SessionRun run)
    {
        await Task.Yield(); // the caller (a command, or start-up) goes on at once
        var sessionId = run.SessionId;
        var token = run.Cancel.Token;
        try
        {
            if (!await run.Transcriber.RunAsync(token).ConfigureAwait(false))
            {
                return; // deleted meanwhile
            }

            var summary = await SummarizeAsync(run, token).ConfigureAwait(false);
            if (summary is null)
            {
                return;
            }

            var stored = _store.Complete(sessionId, summary);
            if (stored is MeetingResult.InvalidState or MeetingResult.UnknownSession && _store.Get(sessionId) is null or { State: MeetingState.Aborted })
            {
                return; // aborted or deleted while the summary was made: the command won, and it reports so itself
            }

            if (stored != MeetingResult.Ok)
            {
                Log.SummaryNotStored(_logger, sessionId, stored);
                await ReportFailureAsync(sessionId, RpcErrorCodes.StorageError, $"the summary could not be stored ({stored})", token).ConfigureAwait(false);
                return;
            }

            await _events.SummaryAsync(sessionId, summary, token).ConfigureAwait(false);
            await _progress.ReportAsync(sessionId, new MeetingProgress { State = MeetingPhase.Completed, Source = summary.Source }, token).ConfigureAwait(false);
            Log.MeetingCompleted(_logger, sessionId, summary.Source);
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Aborted, deleted or shutting down: the journal keeps what a restart needs.
        }
        catch (MeetingRunException e)
        {
            Log.MeetingFailed(_logger, sessionId, e);
            await ReportFailureAsync(sessionId, e.Code, e.Message, CancellationToken.None).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // One meeting's failure is logged, published and reported on health; the others go on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.MeetingFailed(_logger, sessionId, e);
            await ReportFailureAsync(sessionId, RpcErrorCodes.Internal, e.Message, CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await run.DisposeSummarizerAsync().ConfigureAwait(false);
            if (_runs.TryRemove(new KeyValuePair<string, SessionRun>(sessionId, run)))
            {
                run.Cancel.Dispose(); // it ended by itself: no one else holds it to end it
            }
        }
    }

    /// <summary>Publishes the failure, then lists it in <see cref="Failures"/> (also when publishing fails), so that whoever watches <see cref="FailuresChanged"/> finds the event sent.</summary>
    private async Task ReportFailureAsync(string sessionId, string code, string message, CancellationToken cancellationToken)
    {
        try
        {
            await _progress.ReportAsync(sessionId, new MeetingProgress { State = MeetingPhase.Failed, Error = new RpcError(code, message) }, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _failures[sessionId] = message;
            FailuresChanged?.Invoke();
        }
    }

    /// <summary>
    /// The summary: a map-reduce with the summary model, or the extractive summary (labelled so) when there is no model,
    /// no transcript, or the model gives no valid summary. Null when the meeting went away.
    /// </summary>
    private async Task<MeetingSummary?> SummarizeAsync(SessionRun run, CancellationToken cancellationToken)
    {
        var sessionId = run.SessionId;
        var info = _store.Get(sessionId);
        var transcript = _store.ReadTranscript(sessionId);
        if (info is null || transcript is null)
        {
            return null;
        }

        if (transcript.Count > 0 && Summarizer(run) is { } summarizer)
        {
            var outcome = await summarizer.SummarizeAsync(transcript, info.Parameters, info.Gaps, stage => _progress.ReportAsync(sessionId, stage, cancellationToken), cancellationToken).ConfigureAwait(false);
            if (outcome.Summary is not null)
            {
                return outcome.Summary;
            }

            Log.SummaryFallback(_logger, sessionId, outcome.Problem);
        }

        await _progress.ReportAsync(sessionId, new MeetingProgress { State = MeetingPhase.Summarizing, Stage = SummaryStage.Extractive }, cancellationToken).ConfigureAwait(false);
        return _store.CreateExtractiveSummary(sessionId);
    }

    /// <summary>The run's summarizer, made when the summary model is loaded; null without one.</summary>
    private MeetingSummarizer? Summarizer(SessionRun run)
    {
        lock (run)
        {
            if (run.Summarizer is null && !run.Cancel.IsCancellationRequested && _summaryModel() is { } model)
            {
                run.Summarizer = new MeetingSummarizer(model, run.SessionId, _logger);
            }

            return run.Summarizer;
        }
    }

    /// <summary>One run of one session: its transcriber, its summarizer once made, and the task that drives them.</summary>
    private sealed class SessionRun(string sessionId, MeetingTranscriber transcriber, CancellationTokenSource cancel)
    {
        public string SessionId { get; } = sessionId;

        public MeetingTranscriber Transcriber { get; } = transcriber;

        public CancellationTokenSource Cancel { get; } = cancel;

        private readonly TaskCompletionSource<Task> _task = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public MeetingSummarizer? Summarizer { get; set; }

        /// <summary>Hands over the task that drives the run, once; <see cref="EndAsync"/> waits for it even when called first.</summary>
        public void Start(Task task) => _task.SetResult(task);

        /// <summary>Cancels the run, waits for it (it never faults: <see cref="RunAsync"/> catches), then frees its token.</summary>
        public async Task EndAsync()
        {
            await Cancel.CancelAsync().ConfigureAwait(false);
            await (await _task.Task.ConfigureAwait(false)).ConfigureAwait(false);
            Cancel.Dispose();
        }

        public async Task DisposeSummarizerAsync()
        {
            MeetingSummarizer? summarizer;
            lock (this)
            {
                summarizer = Summarizer;
                Summarizer = null;
            }

            if (summarizer is not null)
            {
                await summarizer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
