using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace Appliance.Meetings.Pipeline;

/// <summary>
/// A meeting summary from an R1-class model through <see cref="IChatClient"/>, by map-reduce sized with the model's own
/// tokenizer: the transcript is cut into chunks that fit the context (with overlap) and each is turned into notes (map);
/// notes that together do not fit one prompt are combined again; the notes become the summary JSON (reduce). The last
/// chunk goes to the reduce as transcribed, without a map, when it fits beside the others' notes: so a meeting whose
/// transcript fits the reduce's prompt (about ten minutes of speech in a 4,096-token context) is one model call, and a
/// longer one has its last words read, not notes of them. The reduce is decoded under the summary's JSON schema
/// (constrained decoding, lists and strings bounded to fit the context), so only schema-valid JSON can come out at the
/// first try; it does not reason. An answer that still fails the published schema's checks makes the caller fall back
/// to the extractive summary.
/// </summary>
/// <remarks>
/// While the meeting goes on, <see cref="Prepare"/> maps every chunk already complete in the background, so at stop
/// only the reduce remains, and the last chunk's map when it does not fit the reduce. Notes are kept by chunk text: a
/// chunk whose text is unchanged at stop is not mapped again. One instance per meeting; <see cref="Prepare"/> may be
/// called from any thread; dispose it to cancel and await the background work.
/// </remarks>
/// <param name="model">The summary model and its context size.</param>
/// <param name="sessionId">The meeting, for the log.</param>
/// <param name="logger">Where a failure of the background mapping is logged.</param>
internal sealed class MeetingSummarizer(SummaryModel model, string sessionId, ILogger logger) : IAsyncDisposable
{
    private const int TemplateTokens = 32;
    private const int MaxCombineRounds = 3;
    private const string MapInstruction = "Summarize this part of a meeting transcript as short notes: key points, decisions, action items with owners and due dates, open questions.";
    private const string CombineInstruction = "Combine these notes from one meeting into shorter notes, keeping every decision, action item (owner, due date) and open question.";
    private const string ReduceInstruction = "Write the summary of the meeting below as one JSON object with the fields title, summary, keyPoints, decisions, actionItems (owner, task, due), openQuestions. Answer with the JSON only.";
    private const string NotesHeading = "Notes:";
    private const string TranscriptHeading = "Transcript:";
    private const string EndTranscriptHeading = "Transcript of the rest of the meeting:";

    private readonly int _contextTokens = model.ContextTokens;
    private readonly int _thinking = model.ThinkingBudgetTokens;
    private readonly int _notesTokens = Math.Min(384, model.ContextTokens / 8);
    private readonly int _answerTokens = Math.Min(2048, model.ContextTokens / 2);
    private readonly ConcurrentDictionary<string, string> _notesByChunk = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _preparation = new();
    private readonly Lock _gate = new();
    private Task _preparing = Task.CompletedTask;
    private bool _running;
    private Func<IReadOnlyList<TranscriptSegment>?>? _pendingPreparation;
    private long _charsSincePreparation;
    private double? _charsBeforePass;
    private int? _chunkTokens;

    // Transcript tokens per map prompt; counted once (the instruction is tokenized with the model's tokenizer).
    private int ChunkTokens => _chunkTokens ??= _contextTokens - _thinking - _notesTokens - Count(MapInstruction) - TemplateTokens;

    /// <summary>
    /// Counts new transcript text; once the last chunk may be complete, maps, in the background, the chunks of the
    /// transcript that are complete (all but the last). Each pass measures what its last chunk lacks, in tokens, and how
    /// many characters a token takes in the transcript's last two chunks, and the next pass is due once that many
    /// characters have come in (at least 64 tokens' worth; before the first pass, a whole chunk at one character per
    /// token). So a chunk is mapped soon after it completes, whatever the language and the tokenizer, and at stop
    /// usually only the last chunk is left (and one that completed in the last moments or behind a map in flight). A
    /// pass due while one runs follows it, on the transcript as it is then.
    /// </summary>
    /// <param name="newChars">Characters of text transcribed since the last call.</param>
    /// <param name="readTranscript">Reads the transcript as it is now; null when the meeting is gone.</param>
    public void Prepare(int newChars, Func<IReadOnlyList<TranscriptSegment>?> readTranscript)
    {
        lock (_gate)
        {
            _charsSincePreparation += newChars;
            if (ChunkTokens < 64 || _charsSincePreparation < (_charsBeforePass ??= ChunkTokens))
            {
                return;
            }

            _charsSincePreparation = 0;
            if (_running)
            {
                _pendingPreparation = readTranscript;
                return;
            }

            _running = true;
            _preparing = Task.Run(() => PrepareAsync(readTranscript));
        }
    }

    /// <summary>The background passes in flight and those due behind them; complete when none is running.</summary>
    internal Task Preparing
    {
        get
        {
            lock (_gate)
            {
                return _preparing;
            }
        }
    }

    /// <summary>Cancels the background mapping and waits for it to end.</summary>
    /// <returns>A task that ends with the background work.</returns>
    public async ValueTask DisposeAsync()
    {
        await _preparation.CancelAsync().ConfigureAwait(false);
        await _preparing.ConfigureAwait(false);
        _preparation.Dispose();
    }

    /// <summary>
    /// The summary, or null with the reason the caller should fall back. Waits for a background pass in flight (its notes
    /// are used), then maps what is left (all but the last chunk, and the last unless it fits the reduce beside the
    /// others' notes, each counted at its limit) and reduces.
    /// </summary>
    /// <param name="transcript">The whole transcript.</param>
    /// <param name="parameters">The meeting's start parameters (language, participants, limits).</param>
    /// <param name="gaps">The meeting's gaps, carried into the summary.</param>
    /// <param name="progress">Told each stage as it starts.</param>
    /// <param name="cancellationToken">Abort, delete or shutdown.</param>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    public async Task<(MeetingSummary? Summary, string Problem)> SummarizeAsync(IReadOnlyList<TranscriptSegment> transcript, MeetingParameters parameters, IReadOnlyList<SequenceGap> gaps, Func<MeetingProgress, Task> progress, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _pendingPreparation = null;
        }

        await _preparing.WaitAsync(cancellationToken).ConfigureAwait(false);
        var chunkTokens = ChunkTokens;
        if (chunkTokens < 64)
        {
            return (null, $"the {_contextTokens}-token context leaves no room for transcript chunks");
        }

        var chunks = TranscriptChunker.Chunk(transcript, chunkTokens, Math.Min(64, chunkTokens / 8), Count);
        if (chunks.Count == 0)
        {
            return (null, "the transcript has no text");
        }

        var participants = parameters.Participants.Count > 0 ? $" The participants were {string.Join(", ", parameters.Participants)}; use their names as owners." : "";
        var room = _contextTokens - _answerTokens - Count(ReduceInstruction + participants) - TemplateTokens;

        // The last chunk as transcribed, when it fits beside the other chunks' notes at their limit (a bound known
        // before they are mapped, so the progress counts only the maps that run). It repeats the overlap, the last
        // sentences of the chunk before, as every chunk after the first does in its map.
        var last = chunks[^1];
        var separator = Count("\n\n");
        var earlierNotes = chunks.Count > 1 ? Count(Heading(NotesHeading, "")) + ((chunks.Count - 1) * (_notesTokens + separator)) : 0;
        var tailHeading = chunks.Count > 1 ? EndTranscriptHeading : TranscriptHeading;
        var tail = !_notesByChunk.ContainsKey(last) && earlierNotes + separator + Count(Heading(tailHeading, last)) <= room ? last : null;
        var toMap = tail is null ? chunks : chunks.SkipLast(1).ToList();
        var notes = new List<string>();
        for (var i = 0; i < toMap.Count; i++)
        {
            var prepared = _notesByChunk.ContainsKey(toMap[i]);
            await progress(Summarizing(SummaryStage.Map) with { Chunk = i + 1, Chunks = toMap.Count, Prepared = prepared }).ConfigureAwait(false);
            if (await MapAsync(toMap[i], cancellationToken).ConfigureAwait(false) is { } failure)
            {
                return (null, failure);
            }

            notes.Add(_notesByChunk[toMap[i]]);
        }

        var joined = Join(notes);
        for (var round = 1; tail is null && Count(Heading(NotesHeading, joined)) > room; round++)
        {
            if (round > MaxCombineRounds || room < 64)
            {
                return (null, "the notes do not fit the model's context");
            }

            var groups = TranscriptChunker.Chunk(joined, chunkTokens, 0, Count);
            notes.Clear();
            for (var i = 0; i < groups.Count; i++)
            {
                await progress(Summarizing(SummaryStage.Combine) with { Round = round, Chunk = i + 1, Chunks = groups.Count }).ConfigureAwait(false);
                var (text, failure) = await AskAsync($"{CombineInstruction}\n\n{groups[i]}", _thinking + _notesTokens, null, cancellationToken).ConfigureAwait(false);
                if (failure is not null)
                {
                    return (null, failure);
                }

                notes.Add(Clip(text.Trim(), _notesTokens));
            }

            joined = Join(notes);
        }

        var language = parameters.LanguageHint ?? "und";
        string[] material =
        [
            .. notes.Count > 0 ? [Heading(NotesHeading, joined)] : Array.Empty<string>(),
            .. tail is null ? Array.Empty<string>() : [Heading(tailHeading, tail)],
        ];
        var prompt = $"{ReduceInstruction}{participants}\n\n{Join(material)}";
        await progress(Summarizing(SummaryStage.Reduce) with { Constrained = true }).ConfigureAwait(false);
        var schema = ConstrainedSchema(prompt, parameters.Summary?.MaxKeyPoints ?? 5);
        if (schema is null)
        {
            return (null, "the context leaves no room for a summary of the notes");
        }

        var (answer, reduceFailure) = await AskAsync(prompt, schema.Value.MaxTokens, schema.Value.Schema, cancellationToken).ConfigureAwait(false);
        if (reduceFailure is not null)
        {
            return (null, reduceFailure);
        }

        return MeetingSummarySchema.TryCompleteModelAnswer(answer, language, gaps, out var summary, out var problems)
            ? (summary, "")
            : (null, $"the model's answer was not a valid summary: {string.Join("; ", problems.Take(3))}");
    }

    private static MeetingProgress Summarizing(SummaryStage stage) => new() { State = MeetingPhase.Summarizing, Stage = stage };

    // Runs passes until none is pending. It is the only pass running while _running holds (set by Prepare); it clears
    // _running under the same lock in which it finds no pass pending, so a pass that falls due after that starts anew.
    private async Task PrepareAsync(Func<IReadOnlyList<TranscriptSegment>?> readTranscript)
    {
        var token = _preparation.Token;
        try
        {
            while (!token.IsCancellationRequested && readTranscript() is { } transcript)
            {
                var chunks = TranscriptChunker.Chunk(transcript, ChunkTokens, Math.Min(64, ChunkTokens / 8), Count);
                if (chunks.Count > 0)
                {
                    // What the last chunk lacks, in characters at the rate of the last two chunks' text.
                    var recent = chunks.TakeLast(2).ToList();
                    var tokens = recent.Select(Count).ToList();
                    var charsPerToken = Math.Clamp(recent.Sum(c => c.Length) / (double)Math.Max(1, tokens.Sum()), 0.25, 16);
                    lock (_gate)
                    {
                        _charsBeforePass = Math.Max(64, ChunkTokens - tokens[^1]) * charsPerToken;
                    }
                }

                if (!await MapCompleteChunksAsync(chunks, token).ConfigureAwait(false))
                {
                    break; // the model failed; the summary at stop tries again and reports it
                }

                lock (_gate)
                {
                    if (_pendingPreparation is null)
                    {
                        _running = false;
                        return;
                    }

                    readTranscript = _pendingPreparation;
                    _pendingPreparation = null;
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Disposed: the meeting ended or was aborted.
        }
#pragma warning disable CA1031 // Work ahead is an optimisation: whatever breaks it is logged, and the summary at stop starts afresh.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Log.PreparationFailed(logger, sessionId, e);
            _notesByChunk.Clear();
        }

        lock (_gate)
        {
            _running = false;
            _pendingPreparation = null;
        }
    }

    /// <summary>Maps every chunk but the last that has no notes yet; false when the model failed on one.</summary>
    private async Task<bool> MapCompleteChunksAsync(IReadOnlyList<string> chunks, CancellationToken cancellationToken)
    {
        foreach (var chunk in chunks.SkipLast(1))
        {
            if (await MapAsync(chunk, cancellationToken).ConfigureAwait(false) is not null)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The notes of one chunk, from the cache or the model; null when done, else why the model failed.</summary>
    private async Task<string?> MapAsync(string chunk, CancellationToken cancellationToken)
    {
        if (_notesByChunk.ContainsKey(chunk))
        {
            return null;
        }

        var (text, failure) = await AskAsync($"{MapInstruction}\n\n{chunk}", _thinking + _notesTokens, null, cancellationToken).ConfigureAwait(false);
        if (failure is null)
        {
            _notesByChunk[chunk] = Clip(text.Trim(), _notesTokens);
        }

        return failure;
    }

    /// <summary>
    /// The answer schema for a constrained reduce and the tokens to allow it. Lists are shortened and strings bounded
    /// until the longest possible answer fits the room the prompt leaves, counting half the characters per token the
    /// model's tokenizer gets on the prompt (at worst four tokens per character, a byte-level vocabulary writing
    /// multi-byte characters byte by byte). Null when not even one item per list fits.
    /// </summary>
    private (string Schema, int MaxTokens)? ConstrainedSchema(string prompt, int maxKeyPoints)
    {
        var promptTokens = Count(prompt);
        var maxTokens = Math.Min(_answerTokens, _contextTokens - promptTokens - TemplateTokens);
        var charsPerToken = Math.Clamp(prompt.Length / (double)Math.Max(1, promptTokens) * 0.5, 0.25, 8);
        foreach (var items in new[] { Math.Clamp(maxKeyPoints, 1, 8), 3, 2, 1 }.Distinct().Where(n => n <= Math.Clamp(maxKeyPoints, 1, 8)))
        {
            var skeleton = Count(Skeleton(items));
            var chars = (int)((maxTokens - skeleton) * charsPerToken);
            if (skeleton < maxTokens / 2 && chars >= 64 && MeetingSummarySchema.LongestAnswerChars(items, chars) <= chars)
            {
                return (MeetingSummarySchema.ModelAnswerSchemaText(items, chars), maxTokens);
            }
        }

        return null;
    }

    // The longest answer's JSON without its text: what the structure alone costs in tokens.
    private static string Skeleton(int items)
    {
        var strings = string.Join(',', Enumerable.Repeat("\"\"", items));
        var actions = string.Join(',', Enumerable.Repeat("{\"owner\":\"\",\"task\":\"\",\"due\":\"\"}", items));
        return $"{{\"title\":\"\",\"summary\":\"\",\"keyPoints\":[{strings}],\"decisions\":[{strings}],\"actionItems\":[{actions}],\"openQuestions\":[{strings}]}}";
    }

    /// <summary>
    /// One answer of the model to <paramref name="prompt"/> (reasoning dropped), or the reason it failed. The chat client
    /// names no error type, so anything it throws but a cancellation is the model failing.
    /// </summary>
    private async Task<(string Text, string? Failure)> AskAsync(string prompt, int maxTokens, string? schema, CancellationToken cancellationToken)
    {
        var options = new ChatOptions
        {
            MaxOutputTokens = maxTokens,
            Temperature = 0.6f,
            TopP = 0.95f,
            Reasoning = new ReasoningOptions { Output = ReasoningOutput.None },
            ResponseFormat = schema is null ? null : ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(schema).RootElement, "meeting_summary"),
        };
        var answer = new StringBuilder();
        try
        {
            await foreach (var update in model.Chat.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, WithoutControlCharacters(prompt))], options, cancellationToken).ConfigureAwait(false))
            {
                answer.Append(update.Text);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // IChatClient names no failure type: a failing model is a fallback to the extractive summary, reported by its message.
        catch (Exception e)
#pragma warning restore CA1031
        {
            return ("", $"the model failed: {e.Message}");
        }

        return (answer.ToString(), null);
    }

    /// <summary>
    /// Cuts notes to <paramref name="maxTokens"/> as the tokenizer counts them again: generated text does not always
    /// encode back to as few tokens as it was generated in, and notes that grow in the round trip must not overflow the
    /// combine and reduce prompts.
    /// </summary>
    private string Clip(string text, int maxTokens)
    {
        for (var count = Count(text); count > maxTokens && text.Length > 0; count = Count(text))
        {
            text = text[..(int)(text.Length * (maxTokens / (double)count) * 0.95)];
            text = text.Length > 0 && char.IsHighSurrogate(text[^1]) ? text[..^1] : text;
        }

        return text;
    }

    /// <summary>Tokens of <paramref name="text"/> as the model will be given it (see <see cref="WithoutControlCharacters"/>).</summary>
    private int Count(string text) => model.CountTokens(WithoutControlCharacters(text));

    /// <summary>
    /// The prompt without C0 control characters other than tab and line breaks. Transcripts and earlier answers are
    /// decoded byte for byte, so a model can emit U+0000 and its like; they carry nothing for a summary, and the LLM
    /// service refuses a NUL, which native code would cut the prompt at.
    /// </summary>
    private static string WithoutControlCharacters(string text) =>
        text.AsSpan().IndexOfAnyInRange('\0', '\u001F') < 0 ? text : string.Concat(text.Where(c => c >= ' ' || c is '\t' or '\n' or '\r'));

    private static string Join(IEnumerable<string> notes) => string.Join("\n\n", notes);

    private static string Heading(string heading, string text) => $"{heading}\n{text}";
}
