using System.Text;
using Appliance.Llm.ChatTemplates;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Llm;

/// <summary>
/// One generation on a dedicated thread: renders and tokenizes the prompt, runs the token loop with one GenAI
/// generator, splits reasoning from answer, applies limits, and writes events to the request's channel. Every
/// native object it creates is disposed before it returns.
/// </summary>
internal sealed class Generation(PendingRequest work, LoadedModel model, int prefillSliceTokens, TimeProvider time)
{
    private readonly LlmRequest _request = work.Request;
    private readonly CancellationToken _cancellation = work.Cancellation;
    private readonly StringBuilder _reasoning = new();
    private readonly StringBuilder _answer = new();
    private readonly List<int>? _tokenIds = work.Request.IncludeTokenIds ? [] : null;
    private long _startedAt;
    private LlmFinishReason _lengthReason = LlmFinishReason.ContextFull;
    private long? _firstTokenAt;

    /// <summary>Runs to the end and writes the final event. Throws only <see cref="OnnxRuntimeGenAIException"/> from the runtime, with the cause.</summary>
    public void Run()
    {
        _startedAt = time.GetTimestamp();
        if (!work.Emit(new LlmStarted(model.Spec.Id, time.GetElapsedTime(work.EnqueuedAt, _startedAt)), _cancellation))
        {
            work.EmitFinal(Completed(LlmFinishReason.Cancelled, false, 0, 0, 0));
            return;
        }

        int[] promptIds;
        bool startsInReasoning;
        if (_request.PromptTokenIds is { } ids)
        {
            promptIds = [.. ids];
            startsInReasoning = false;
        }
        else
        {
            string prompt;
            try
            {
                prompt = model.RenderPrompt(_request.Messages);
            }
            catch (TemplateRenderException e)
            {
                work.EmitFinal(new LlmFailed(new LlmError(LlmErrorCodes.InvalidRequest, e is TemplateRaisedException
                    ? $"the chat template of model {model.Spec.Id} refused the messages: {e.Reason}"
                    : $"the chat template of model {model.Spec.Id} failed on the messages ({model.Folder.ChatTemplate?.Origin} {e.Message})")));
                return;
            }

            promptIds = model.Encode(prompt);
            startsInReasoning = prompt.TrimEnd().EndsWith("<think>", StringComparison.Ordinal);
        }

        // A tokenizer larger than the graph's vocabulary (test models) would otherwise fail inside the runtime.
        if (model.Folder.VocabSize is { } vocab && Array.FindIndex(promptIds, id => id < 0 || id >= vocab) is >= 0 and var at)
        {
            work.EmitFinal(new LlmFailed(new LlmError(
                LlmErrorCodes.InvalidRequest,
                $"prompt token {promptIds[at]} (position {at} of {promptIds.Length}) is outside the {vocab}-token vocabulary of model {model.Spec.Id}")));
            return;
        }

        if (promptIds.Length >= model.ContextTokens)
        {
            work.EmitFinal(new LlmFailed(new LlmError(
                LlmErrorCodes.PromptTooLong,
                $"the prompt is {promptIds.Length} tokens; model {model.Spec.Id} has a context of {model.ContextTokens}")));
            return;
        }

        Generate(promptIds, startsInReasoning);
    }

    private void Generate(int[] promptIds, bool startsInReasoning)
    {
        var budget = _request.AnswerJsonSchema is null ? _request.ThinkingBudgetTokens ?? model.Spec.ThinkingBudgetTokens : 0;
        var room = model.ContextTokens - promptIds.Length;
        var maxNew = Math.Min(_request.MaxTokens ?? int.MaxValue, room);
        var closeIds = model.ThinkCloseTokenIds.ToArray();
        var reserve = startsInReasoning ? closeIds.Length : 0;
        var maxLength = (int)Math.Min(model.ContextTokens, (long)promptIds.Length + maxNew + reserve);

        // One answer for every way the length runs out: the request's limit when it fits the context, else the context.
        _lengthReason = _request.MaxTokens is { } maxTokens && (long)promptIds.Length + maxTokens + reserve <= model.ContextTokens
            ? LlmFinishReason.MaxTokens
            : LlmFinishReason.ContextFull;
        var splitter = new ReasoningSplitter(startsInReasoning);
        var stops = new StopSequenceFilter(_request.StopSequences);
        var completion = 0;
        var reasoningTokens = 0;

        // A request with a prefix-cache key takes the generator the last one with that key kept, rewound to the prompt
        // tokens they share (at least one token is left to process: the next token comes from its logits); its search
        // options are made for the whole context, the request's own length being kept by the loop.
        var key = _request.PrefixCacheKey;
        var settings = key is null ? "" : SearchSettings();
        var entry = key is null ? null : model.Prefixes.Take(key, settings);
        var cached = 0;
        if (entry is not null)
        {
            cached = Math.Min(PrefixCache.SharedLength(entry.Prompt, promptIds), promptIds.Length - 1);
            try
            {
                entry.Generator.RewindTo((ulong)cached);
            }
            catch
            {
                entry.Dispose();
                throw;
            }
        }
        else
        {
            var parameters = new GeneratorParams(model.Model);
            try
            {
                ApplySearchOptions(parameters, key is null ? maxLength : model.ContextTokens);
                entry = new PrefixCache.Entry(parameters, new Generator(model.Model, parameters), settings, promptIds);
            }
            catch
            {
                parameters.Dispose();
                throw;
            }
        }

        var generator = entry.Generator;
        using var textStream = model.CreateTextStream();

        // Cancellation reaches the kernel: a token in flight is abandoned by ONNX Runtime's terminate flag. The
        // registration is disposed (waiting for a running callback) before the generator it touches is kept or freed.
        var terminate = _cancellation.Register(static state => ((Generator)state!).SetRuntimeOption("terminate_session", "1"), generator);
        LlmFinishReason reason = LlmFinishReason.Cancelled;
        try
        {
            // The prompt goes in slices (LlmServiceOptions.PrefillSliceTokens): a graph with a full LM head returns logits
            // for every position it is given, so a whole 4000-token prompt would need 4000 x vocabulary floats at once.
            for (var offset = cached; offset < promptIds.Length && !_cancellation.IsCancellationRequested; offset += prefillSliceTokens)
            {
                generator.AppendTokens(promptIds.AsSpan(offset, Math.Min(prefillSliceTokens, promptIds.Length - offset)).ToArray());
            }

            var closesAtOnce = startsInReasoning && budget <= 0;
            if (closesAtOnce && promptIds.Length + closeIds.Length > maxLength)
            {
                reason = _lengthReason; // no room left for the closing tag
            }
            else
            {
                if (closesAtOnce)
                {
                    generator.AppendTokens(closeIds);
                    splitter.CloseReasoning(_reasoning);
                }

                reason = Loop(generator, textStream, splitter, stops, (maxNew, maxLength, budget), closeIds, ref completion, ref reasoningTokens);
            }
        }
        catch (OnnxRuntimeGenAIException) when (_cancellation.IsCancellationRequested)
        {
            reason = LlmFinishReason.Cancelled;
        }
        finally
        {
            terminate.Dispose();
            // Kept only when whole: a cancelled generator may carry the terminate flag, a failed one a broken state.
            if (key is not null && reason != LlmFinishReason.Cancelled && !_cancellation.IsCancellationRequested)
            {
                model.Prefixes.Keep(key, new PrefixCache.Entry(entry.Parameters, generator, settings, promptIds));
            }
            else
            {
                entry.Dispose();
            }
        }

        if (reason is not (LlmFinishReason.Cancelled or LlmFinishReason.StopSequence))
        {
            splitter.Push(textStream.Flush(), _reasoning, _answer);
            splitter.Flush(_reasoning, _answer);
            var tail = stops.Push(_answer.ToString(), out var stopped);
            _answer.Clear().Append(tail).Append(stopped ? "" : stops.Flush());
            reason = stopped ? LlmFinishReason.StopSequence : reason;
            EmitText(CancellationToken.None);
        }

        work.EmitFinal(Completed(reason, splitter.InReasoning, promptIds.Length, completion, reasoningTokens, cached));
    }

    /// <summary>The request's search options and guidance, which a kept generator must have been made with.</summary>
    private string SearchSettings() => string.Create(
        System.Globalization.CultureInfo.InvariantCulture,
        $"t={_request.Temperature};p={_request.TopP};k={_request.TopK};s={_request.Seed};g={_request.AnswerJsonSchema}");

    private LlmFinishReason Loop(
        Generator generator,
        ITokenTextStream textStream,
        ReasoningSplitter splitter,
        StopSequenceFilter stops,
        (int MaxNew, int MaxLength, int? Budget) limits,
        int[] closeIds,
        ref int completion,
        ref int reasoningTokens)
    {
        while (true)
        {
            if (_cancellation.IsCancellationRequested)
            {
                return LlmFinishReason.Cancelled;
            }

            if (completion >= limits.MaxNew)
            {
                return _lengthReason;
            }

            // A closing tag appended for the budget may have filled the sequence, which the runtime does not count
            // as done: it refuses the next step instead.
            if (generator.IsDone() || (long)generator.TokenCount() >= limits.MaxLength)
            {
                return _lengthReason;
            }

            generator.GenerateNextToken();
            if (_cancellation.IsCancellationRequested)
            {
                return LlmFinishReason.Cancelled;
            }

            var token = generator.GetNextTokens()[0];
            completion++;
            _tokenIds?.Add(token);
            _firstTokenAt ??= time.GetTimestamp();
            if (model.EosTokenIds.Contains(token))
            {
                return LlmFinishReason.Stop;
            }

            var wasReasoning = splitter.InReasoning;
            splitter.Push(textStream.Decode(token), _reasoning, _answer);
            if (wasReasoning && splitter.InReasoning)
            {
                reasoningTokens++;
            }

            if (splitter.InReasoning && reasoningTokens >= limits.Budget)
            {
                if ((long)generator.TokenCount() + closeIds.Length > limits.MaxLength)
                {
                    return _lengthReason;
                }

                generator.AppendTokens(closeIds);
                splitter.CloseReasoning(_reasoning);
            }

            if (_answer.Length > 0)
            {
                var safe = stops.Push(_answer.ToString(), out var stopped);
                _answer.Clear().Append(safe);
                if (stopped)
                {
                    EmitText(_cancellation);
                    return LlmFinishReason.StopSequence;
                }
            }

            if (!EmitText(_cancellation))
            {
                return LlmFinishReason.Cancelled;
            }
        }
    }

    private void ApplySearchOptions(GeneratorParams generatorParams, int maxLength)
    {
        generatorParams.SetSearchOption("max_length", maxLength);
        if (_request.Temperature is { } temperature)
        {
            var greedy = temperature <= 0;
            generatorParams.SetSearchOption("do_sample", !greedy);
            if (!greedy)
            {
                generatorParams.SetSearchOption("temperature", temperature);
            }
        }

        if (_request.TopP is { } topP)
        {
            generatorParams.SetSearchOption("top_p", topP);
        }

        if (_request.TopK is { } topK)
        {
            generatorParams.SetSearchOption("top_k", topK);
        }

        if (_request.Seed is { } seed)
        {
            generatorParams.SetSearchOption("random_seed", seed);
        }

        if (_request.AnswerJsonSchema is { } schema)
        {
            generatorParams.SetGuidance("json_schema", CompactJsonSchema(schema));
        }
    }

    // The schema as guidance takes it: JSON without whitespace between tokens, so a model cannot pad its answer.
    private static string CompactJsonSchema(string schema)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(schema)!.AsObject();
        node["x-guidance"] ??= new System.Text.Json.Nodes.JsonObject { ["whitespace_flexible"] = false };
        return node.ToJsonString();
    }

    // Sends the reasoning and answer text gathered since the last call; false when the request was cancelled meanwhile.
    private bool EmitText(CancellationToken cancellation)
    {
        if (_reasoning.Length > 0)
        {
            var text = _reasoning.ToString();
            _reasoning.Clear();
            if (_request.Reasoning == ReasoningMode.Separate && !work.Emit(new LlmReasoningDelta(text), cancellation))
            {
                return false;
            }
        }

        if (_answer.Length > 0)
        {
            var text = _answer.ToString();
            _answer.Clear();
            return work.Emit(new LlmAnswerDelta(text), cancellation);
        }

        return true;
    }

    private LlmCompleted Completed(LlmFinishReason reason, bool endedInReasoning, int promptTokens, int completion, int reasoningTokens, int cachedPromptTokens = 0)
    {
        var end = time.GetTimestamp();
        var seconds = time.GetElapsedTime(_startedAt, end).TotalSeconds;
        return new LlmCompleted(
            reason,
            endedInReasoning,
            new LlmUsage(
                promptTokens,
                completion,
                reasoningTokens,
                _firstTokenAt is { } first ? time.GetElapsedTime(work.EnqueuedAt, first) : null,
                seconds > 0 ? completion / seconds : 0,
                cachedPromptTokens),
            _tokenIds);
    }
}
