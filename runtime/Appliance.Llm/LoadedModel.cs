using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Inference;
using Appliance.Llm.ChatTemplates;
using Appliance.Profiles;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Llm;

/// <summary>
/// A GenAI model and its tokenizer, shared by every generation on it. Generations take a lease; once the model is
/// retired (unloaded or replaced) the native objects are disposed when the last lease is released.
/// </summary>
internal sealed class LoadedModel
{
    internal const string ThinkEnd = "</think>";

    private readonly Lock _gate = new();
    private readonly Model _model;
    private readonly Tokenizer _tokenizer;
    private readonly LineBreakPieces? _lineBreaks;
    private int _leases;
    private bool _retired;

    private LoadedModel(ModelSpec spec, ModelFolder folder, Model model, Tokenizer tokenizer, string provider, int contextTokens)
    {
        Spec = spec;
        Folder = folder;
        _model = model;
        _tokenizer = tokenizer;
        ExecutionProvider = provider;
        ContextTokens = contextTokens;
        EosTokenIds = [.. tokenizer.GetEosTokenIds()];
        using var close = tokenizer.Encode(ThinkEnd + "\n\n");
        ThinkCloseTokenIds = [.. close[0]];

        // Encode cuts the text into stretches for GenAI, which holds only where GenAI adds no token of its own (a BOS) to each.
        _lineBreaks = folder.TokenizerFile?.LineBreaks is { } lineBreaks && EncodeWithGenAi("\n").Length == 1 ? lineBreaks : null;
    }

    public ModelSpec Spec { get; }

    public ModelFolder Folder { get; }

    public string ExecutionProvider { get; }

    /// <summary>The model's context length capped by the spec.</summary>
    public int ContextTokens { get; }

    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The tokens forced to close reasoning: <c>&lt;/think&gt;</c> and the blank line R1 writes after it.</summary>
    public IReadOnlyList<int> ThinkCloseTokenIds { get; }

    public Model Model => _model;

    public Tokenizer Tokenizer => _tokenizer;

    /// <summary>
    /// The token ids of <paramref name="text"/> as the model's own tokenizer gives them: normalized first as its
    /// <c>tokenizer.json</c> says (<see cref="TokenizerFile.Normalize"/>), then encoded by GenAI's tokenizer, except the
    /// whitespace pieces with a line break that GenAI splits otherwise (<see cref="LineBreakPieces"/>).
    /// </summary>
    public int[] Encode(string text)
    {
        var normalized = Folder.TokenizerFile?.Normalize(text) ?? text;
        return _lineBreaks is null ? EncodeWithGenAi(normalized) : _lineBreaks.Encode(normalized, EncodeWithGenAi);
    }

    /// <summary>Generators kept for requests with a prefix-cache key; freed with the model.</summary>
    public PrefixCache Prefixes { get; } = new();

    /// <summary>
    /// Creates the GenAI model with the first provider of the settings' candidates that works (GenAI loads its own
    /// sessions; the settings' threads and spin policy go into its config).
    /// </summary>
    /// <returns>The model, or null with the reason of every provider that failed in <paramref name="failures"/>.</returns>
    public static LoadedModel? TryCreate(ModelSpec spec, ModelFolder folder, InferenceSettings settings, List<string> failures)
    {
        var contextTokens = Math.Min(folder.ContextLength, spec.ContextTokens ?? int.MaxValue);
        OnnxRuntimeEnvironment.Ensure(); // GenAI runs on the process's environment: made here first, with telemetry off
        foreach (var provider in settings.ProviderCandidates())
        {
            Model? model = null;
            Tokenizer? tokenizer = null;
            try
            {
                using (var config = new Config(folder.Directory))
                {
                    Configure(config, provider, settings, contextTokens);
                    model = new Model(config);
                }

                tokenizer = new Tokenizer(model);
                return new LoadedModel(spec, folder, model, tokenizer, provider.Name, contextTokens);
            }
            catch (OnnxRuntimeGenAIException e)
            {
                tokenizer?.Dispose();
                model?.Dispose();
                failures.Add($"{provider.Name}: {e.Message.Trim()}");
            }
        }

        return null;
    }

    /// <summary>Takes a lease; false once the model is retired.</summary>
    public bool TryAcquire()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            _leases++;
            return true;
        }
    }

    public void Release()
    {
        bool dispose;
        lock (_gate)
        {
            _leases--;
            dispose = _retired && _leases == 0;
        }

        if (dispose)
        {
            DisposeNative();
        }
    }

    /// <summary>No new lease is given; the native objects go when the last one is released.</summary>
    public void Retire()
    {
        bool dispose;
        lock (_gate)
        {
            if (_retired)
            {
                return;
            }

            _retired = true;
            dispose = _leases == 0;
        }

        if (dispose)
        {
            DisposeNative();
        }
    }

    /// <summary>
    /// A decoder of generated tokens into text for one generation: byte-exact for byte-level tokenizers (partial
    /// characters held back, invalid bytes as U+FFFD), GenAI's own stream for others. The caller disposes it.
    /// </summary>
    public ITokenTextStream CreateTextStream() => Folder.TokenizerFile?.Vocabulary?.CreateStream() ?? new GenAiTokenTextStream(_tokenizer);

    /// <summary>
    /// Renders messages with the model's own chat template (see <see cref="ModelChatTemplate"/>), ending with the
    /// generation prompt, or joins their contents with newlines when the folder has no template.
    /// </summary>
    /// <exception cref="TemplateRenderException">The template failed on these messages; <see cref="TemplateRaisedException"/>
    /// when it refused them with <c>raise_exception</c>.</exception>
    public string RenderPrompt(IReadOnlyList<LlmMessage> messages) =>
        Folder.ChatTemplate?.Render(messages) ?? string.Join("\n", messages.Select(m => m.Content));

    private static void Configure(Config config, ExecutionProviderSpec provider, InferenceSettings settings, int contextTokens)
    {
        config.ClearProviders();
        if (provider.Name != ExecutionProviderSelector.Cpu)
        {
            config.AppendProvider(provider.Name);
            foreach (var (key, value) in provider.Options)
            {
                config.SetProviderOption(provider.Name, key, value);
            }
        }

        // String entries GenAI does not know itself go to ONNX Runtime as session config entries.
        var decoderSession = new JsonObject();
        foreach (var (key, value) in settings.SessionConfigEntries())
        {
            decoderSession[key] = value;
        }

        decoderSession["enable_cpu_mem_arena"] = settings.CpuMemoryArena;
        if (settings.IntraOpThreads > 0)
        {
            decoderSession["intra_op_num_threads"] = settings.IntraOpThreads;
        }

        if (settings.InterOpThreads > 0)
        {
            decoderSession["inter_op_num_threads"] = settings.InterOpThreads;
        }

        var overlay = new JsonObject
        {
            ["model"] = new JsonObject
            {
                ["decoder"] = new JsonObject { ["session_options"] = decoderSession },
            },
            ["search"] = new JsonObject { ["max_length"] = contextTokens },
        };
        config.Overlay(overlay.ToJsonString());
    }

    private int[] EncodeWithGenAi(string text)
    {
        using var sequences = _tokenizer.Encode(text);
        return [.. sequences[0]];
    }

    private void DisposeNative()
    {
        Prefixes.Dispose();
        _tokenizer.Dispose();
        _model.Dispose();
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Spec.Id} ({ExecutionProvider}, context {ContextTokens})");
}
