using System.Runtime.CompilerServices;
using Appliance.Inference;
using Appliance.Profiles;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Llm;

/// <summary>
/// The on-device LLM service: loads GenAI model folders by id, queues requests by priority (interactive ahead of
/// batch, first-in first-out within one), runs up to <see cref="LlmServiceOptions.MaxConcurrency"/> generations at
/// once, and guards the memory budget.
/// </summary>
/// <remarks>
/// Thread-safe: every member may be called from any thread. Expected failures (unknown model, load failure, full
/// queue, memory, prompt too long) are values: <see cref="LlmFailed"/> events and <see cref="LlmModelStatus.Error"/>.
/// Exceptions are for bugs: null arguments, or use after <see cref="DisposeAsync"/> (<see cref="ObjectDisposedException"/>).
/// The service owns every native object it creates and disposes each one when the last generation using it ends.
/// </remarks>
public sealed partial class LlmService : IAsyncDisposable
{
    private readonly LlmServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _loads = new(1, 1);
    private readonly PriorityQueue<PendingRequest, (LlmPriority, long)> _queue = new();
    private readonly Dictionary<string, PendingRequest> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LlmModelStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LoadedModel> _models = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _sequence;
    private int _queued;
    private int _running;
    private bool _disposed;
    private string? _defaultModelId;

    /// <param name="options">Provider chain, threads, budget, queue and concurrency.</param>
    /// <param name="timeProvider">Clock for queue times and token timings; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="logger">Where loads, fallbacks and failures are logged.</param>
    public LlmService(LlmServiceOptions options, TimeProvider? timeProvider = null, ILogger<LlmService>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxConcurrency, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.QueueCapacity, 0, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.PrefillSliceTokens, 1, nameof(options));
        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger<LlmService>.Instance;
    }

    /// <summary>Raised after a model's status changes (loading, loaded, failed, unloaded), on the thread that changed it.</summary>
    public event EventHandler<LlmModelStatus>? ModelStatusChanged;

    /// <summary>The model requests without a <see cref="LlmRequest.ModelId"/> go to: the first loaded, unless set.</summary>
    public string? DefaultModelId
    {
        get
        {
            lock (_gate)
            {
                return _defaultModelId;
            }
        }
    }

    /// <summary>Every model id the service has seen, in id order, for <c>models.list</c> and the status.</summary>
    public IReadOnlyList<LlmModelStatus> Models
    {
        get
        {
            lock (_gate)
            {
                return [.. _statuses.Values.OrderBy(s => s.Id, StringComparer.Ordinal)];
            }
        }
    }

    /// <summary>Requests waiting in the queue.</summary>
    public int QueuedCount
    {
        get
        {
            lock (_gate)
            {
                return _queued;
            }
        }
    }

    /// <summary>Generations running now.</summary>
    public int RunningCount
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>
    /// Loads the model folder of <paramref name="spec"/> under its id, replacing a model already loaded under it
    /// (generations on the old one finish first). Loads run one at a time.
    /// </summary>
    /// <returns>The new status: <see cref="LlmModelState.Loaded"/>, or <see cref="LlmModelState.Failed"/> with
    /// <see cref="LlmErrorCodes.ModelLoadFailed"/> or <see cref="LlmErrorCodes.MemoryBudgetExceeded"/>.</returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while waiting for another load.</exception>
    public async Task<LlmModelStatus> LoadModelAsync(ModelSpec spec, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ObjectDisposedException.ThrowIf(_disposed, this);
        await _loads.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Publish(new LlmModelStatus { Id = spec.Id, Path = spec.Path, State = LlmModelState.Loading });
            var (status, loaded) = await Task.Run(() => Load(spec), CancellationToken.None).ConfigureAwait(false);
            LoadedModel? replaced = null;
            lock (_gate)
            {
                if (loaded is not null)
                {
                    _models.Remove(spec.Id, out replaced);
                    _models[spec.Id] = loaded;
                    _defaultModelId ??= spec.Id;
                }
            }

            replaced?.Retire();
            Publish(status);
            return status;
        }
        finally
        {
            _loads.Release();
        }
    }

    /// <summary>Unloads a model; generations running on it finish first. False when no model is loaded under that id.</summary>
    public bool UnloadModel(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        LoadedModel? model;
        LlmModelStatus? status = null;
        lock (_gate)
        {
            if (_models.Remove(id, out model))
            {
                status = _statuses[id] with { State = LlmModelState.Unloaded };
            }
        }

        if (model is null || status is null)
        {
            return false;
        }

        model.Retire();
        Log.ModelUnloaded(_logger, id);
        Publish(status);
        return true;
    }

    /// <summary>Makes a loaded model the default. False when no model is loaded under that id.</summary>
    public bool SetDefaultModel(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        lock (_gate)
        {
            if (!_models.ContainsKey(id))
            {
                return false;
            }

            _defaultModelId = id;
            return true;
        }
    }

    /// <summary>
    /// Queues a request and streams its events: <see cref="LlmStarted"/>, deltas, then one <see cref="LlmCompleted"/>
    /// or <see cref="LlmFailed"/>. The request is queued when enumeration starts.
    /// </summary>
    /// <remarks>
    /// Cancelling <paramref name="cancellationToken"/> (or <see cref="TryCancel"/>) does not throw: the stream ends
    /// with <see cref="LlmCompleted"/> whose reason is <see cref="LlmFinishReason.Cancelled"/>, at most one token later.
    /// The generation waits for the reader (one event of slack); disposing the enumerator early cancels the request.
    /// </remarks>
    public async IAsyncEnumerable<LlmEvent> GenerateAsync(LlmRequest request, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (work, refusal) = Enqueue(request, cancellationToken);
        if (work is null)
        {
            Log.RequestRefused(_logger, request.Id, refusal!.Code, refusal.Message);
            yield return new LlmFailed(refusal);
            yield break;
        }

        try
        {
            Pump();
            await foreach (var e in work.Events.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return e;
            }
        }
        finally
        {
            work.Abandon();
            lock (_gate)
            {
                _inFlight.Remove(request.Id);
            }

            work.Dispose();
        }
    }

    /// <summary>
    /// How many tokens <paramref name="text"/> is in the model's own tokenizer (no chat template applied), for sizing
    /// prompts to its context. Null when no such model is loaded.
    /// </summary>
    public int? CountTokens(string? modelId, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        LoadedModel? model;
        lock (_gate)
        {
            if (modelId is null && _defaultModelId is null || !_models.TryGetValue(modelId ?? _defaultModelId!, out model) || !model.TryAcquire())
            {
                return null;
            }
        }

        try
        {
            return model.Encode(text).Length;
        }
        finally
        {
            model.Release();
        }
    }

    private static bool IsJsonObject(string text)
    {
        try
        {
            return System.Text.Json.Nodes.JsonNode.Parse(text) is System.Text.Json.Nodes.JsonObject;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    /// <summary>Cancels a queued or running request by id (<c>llm.cancel</c>). False when no such request is in flight.</summary>
    public bool TryCancel(string requestId)
    {
        ArgumentNullException.ThrowIfNull(requestId);
        lock (_gate)
        {
            // Under the lock: an entry in the map is not yet disposed by its reader.
            if (!_inFlight.TryGetValue(requestId, out var work))
            {
                return false;
            }

            work.Cancel();
            return true;
        }
    }

    /// <summary>Cancels every request, waits for running generations to end, and disposes every model.</summary>
    public async ValueTask DisposeAsync()
    {
        List<PendingRequest> all;
        List<LoadedModel> models;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            all = [.. _inFlight.Values];
            models = [.. _models.Values];
            _models.Clear();
            if (_running == 0)
            {
                _idle.TrySetResult();
            }

            foreach (var work in all)
            {
                work.Cancel();
            }
        }

        await _idle.Task.ConfigureAwait(false);
        lock (_gate)
        {
            while (_queue.TryDequeue(out var skipped, out _))
            {
                skipped.Dispose();
            }
        }

        foreach (var model in models)
        {
            model.Retire();
        }

        _loads.Dispose();
    }

    /// <summary>
    /// Why a string of the request would not reach the tokenizer or the guidance engine whole, or null. Native code
    /// takes NUL-terminated UTF-8: a U+0000 would cut the text there, and a lone UTF-16 surrogate has no UTF-8 form.
    /// </summary>
    private static string? NativeTextProblem(LlmRequest request)
    {
        for (var i = 0; i < request.Messages.Count; i++)
        {
            if (TextProblem(request.Messages[i].Content) is { } problem)
            {
                return $"message {i} ({request.Messages[i].Role}) {problem}";
            }
        }

        return request.AnswerJsonSchema is { } schema && TextProblem(schema) is { } schemaProblem ? $"the answer schema {schemaProblem}" : null;
    }

    private static string? TextProblem(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0')
            {
                return $"holds a NUL character (U+0000) at index {i}, where the tokenizer would cut the text";
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"holds an unpaired UTF-16 surrogate at index {i}, which has no UTF-8 form";
            }
        }

        return null;
    }

    private (PendingRequest? Work, LlmError? Refusal) Enqueue(LlmRequest request, CancellationToken cancellationToken)
    {
        if (request.PromptTokenIds is null && request.Messages.Count == 0)
        {
            return (null, new LlmError(LlmErrorCodes.InvalidRequest, "the request has neither messages nor prompt token ids"));
        }

        if (request.MaxTokens is < 1)
        {
            return (null, new LlmError(LlmErrorCodes.InvalidRequest, "max tokens must be at least 1"));
        }

        if (request.AnswerJsonSchema is { } schema && !IsJsonObject(schema))
        {
            return (null, new LlmError(LlmErrorCodes.InvalidRequest, "the answer schema is not a JSON object"));
        }

        if (NativeTextProblem(request) is { } problem)
        {
            return (null, new LlmError(LlmErrorCodes.InvalidRequest, problem));
        }

        if (_options.MemoryBudgetBytes > 0 && _options.ResidentMemoryBytes() is var resident && resident > _options.MemoryBudgetBytes)
        {
            return (null, new LlmError(LlmErrorCodes.MemoryPressure, $"resident memory {resident / (1024 * 1024)} MiB is above the budget of {_options.MemoryBudgetBytes / (1024 * 1024)} MiB"));
        }

        PendingRequest work;
        lock (_gate)
        {
            if (_disposed)
            {
                return (null, new LlmError(LlmErrorCodes.ServiceStopped, "the LLM service is shutting down"));
            }

            var modelId = request.ModelId ?? _defaultModelId;
            if (modelId is null || !_models.ContainsKey(modelId))
            {
                return (null, NotFound(modelId));
            }

            if (_queued >= _options.QueueCapacity)
            {
                return (null, new LlmError(LlmErrorCodes.QueueFull, $"{_queued} requests are waiting, the most the queue holds"));
            }

            if (_inFlight.ContainsKey(request.Id))
            {
                return (null, new LlmError(LlmErrorCodes.InvalidRequest, $"a request with id {request.Id} is already in flight"));
            }

            work = new PendingRequest(request, _sequence++, _time.GetTimestamp(), cancellationToken);
            _inFlight[request.Id] = work;
            _queue.Enqueue(work, (request.Priority, work.Sequence));
            _queued++;
        }

        work.Cancellation.Register(
            static state =>
            {
                var (service, pending) = ((LlmService, PendingRequest))state!;
                service.CancelQueued(pending);
            },
            (this, work));
        return (work, null);
    }

    private void CancelQueued(PendingRequest work)
    {
        lock (_gate)
        {
            if (work.State != PendingState.Queued)
            {
                return;
            }

            work.State = PendingState.Done;
            _queued--;
        }

        // Nothing was written yet, so the one-slot channel takes this at once.
        work.EmitFinal(new LlmCompleted(LlmFinishReason.Cancelled, false, new LlmUsage(0, 0, 0, null, 0)));
    }

    // Starts queued requests while slots are free; called after each submission and after each generation ends.
    private void Pump()
    {
        List<(PendingRequest Work, LoadedModel? Model, LlmError? Error)> starts = [];
        lock (_gate)
        {
            while (!_disposed && _running < _options.MaxConcurrency && _queue.TryDequeue(out var work, out _))
            {
                if (work.State != PendingState.Queued)
                {
                    work.Dispose();
                    continue;
                }

                work.State = PendingState.Running;
                _queued--;
                _running++;
                var modelId = work.Request.ModelId ?? _defaultModelId;
                var model = modelId is not null && _models.TryGetValue(modelId, out var found) && found.TryAcquire() ? found : null;
                starts.Add((work, model, model is null ? NotFound(modelId) : null));
            }
        }

        foreach (var (work, model, error) in starts)
        {
            _ = Task.Factory.StartNew(() => Execute(work, model, error), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }
    }

    private void Execute(PendingRequest work, LoadedModel? model, LlmError? error)
    {
        try
        {
            if (model is null)
            {
                work.EmitFinal(new LlmFailed(error!));
                return;
            }

            try
            {
                new Generation(work, model, _options.PrefillSliceTokens, _time).Run();
            }
            catch (OnnxRuntimeGenAIException e)
            {
                Log.GenerationFailed(_logger, work.Request.Id, model.Spec.Id, e.Message);
                work.EmitFinal(new LlmFailed(new LlmError(LlmErrorCodes.GenerationFailed, e.Message.Trim())));
            }
            finally
            {
                model.Release();
            }
        }
        finally
        {
            work.Dispose();
            bool idle;
            lock (_gate)
            {
                _running--;
                idle = _disposed && _running == 0;
            }

            if (idle)
            {
                _idle.TrySetResult();
            }

            Pump();
        }
    }

    private (LlmModelStatus Status, LoadedModel? Model) Load(ModelSpec spec)
    {
        LlmModelStatus Failed(string code, string reason)
        {
            Log.ModelLoadFailed(_logger, spec.Id, spec.Path, code, reason);
            return new LlmModelStatus { Id = spec.Id, Path = spec.Path, State = LlmModelState.Failed, Error = new LlmError(code, reason) };
        }

        if (!ModelFolder.TryRead(spec.Path, out var folder, out var reason))
        {
            return (Failed(LlmErrorCodes.ModelLoadFailed, reason), null);
        }

        var contextTokens = Math.Min(folder!.ContextLength, spec.ContextTokens ?? int.MaxValue);
        var estimated = folder.WeightBytes + (folder.KvBytesPerToken * contextTokens * _options.MaxConcurrency);
        if (_options.MemoryBudgetBytes > 0)
        {
            long others;
            lock (_gate)
            {
                others = _models.Values.Where(m => m.Spec.Id != spec.Id).Sum(m => _statuses[m.Spec.Id].EstimatedBytes ?? 0);
            }

            if (others + estimated > _options.MemoryBudgetBytes)
            {
                return (Failed(
                    LlmErrorCodes.MemoryBudgetExceeded,
                    $"weights {folder.WeightBytes} B + KV cache {folder.KvBytesPerToken} B/token × {contextTokens} tokens × {_options.MaxConcurrency} = {estimated} B, with {others} B of other models, exceeds the budget of {_options.MemoryBudgetBytes} B"), null);
            }
        }

        var failures = new List<string>();
        var loaded = LoadedModel.TryCreate(spec, folder, _options.Inference, failures);
        foreach (var failure in failures)
        {
            Log.ProviderFallback(_logger, spec.Id, failure);
        }

        if (loaded is null)
        {
            return (Failed(LlmErrorCodes.ModelLoadFailed, string.Join("; ", failures)), null);
        }

        Log.ModelLoaded(_logger, spec.Id, loaded.ExecutionProvider, contextTokens, folder.KvBytesPerToken, folder.WeightBytes);
        if (folder.TokenizerFile is { NormalizesToNfc: true } && !UnicodeNfc.IsAvailable)
        {
            Log.NoNfc(_logger, spec.Id);
        }
        var status = new LlmModelStatus
        {
            Id = spec.Id,
            Path = spec.Path,
            State = LlmModelState.Loaded,
            ExecutionProvider = loaded.ExecutionProvider,
            ProviderFallbacks = failures,
            ContextTokens = contextTokens,
            KvCacheBytesPerToken = folder.KvBytesPerToken,
            WeightBytes = folder.WeightBytes,
            EstimatedBytes = estimated,
        };
        return (status, loaded);
    }

    private LlmError NotFound(string? modelId)
    {
        if (modelId is null)
        {
            return new LlmError(LlmErrorCodes.ModelNotFound, "no model is loaded and the request names none");
        }

        var state = _statuses.TryGetValue(modelId, out var status) ? $" (it is {status.State.ToString().ToLowerInvariant()})" : "";
        return new LlmError(LlmErrorCodes.ModelNotFound, $"no model {modelId} is loaded{state}");
    }

    private void Publish(LlmModelStatus status)
    {
        lock (_gate)
        {
            _statuses[status.Id] = status;
        }

        ModelStatusChanged?.Invoke(this, status);
    }
}
