using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Llm.ChatTemplates;

namespace Appliance.Llm;

/// <summary>
/// What a GenAI model folder says about itself before any native object exists: sizes and names from
/// <c>genai_config.json</c>, checked against the graph's own inputs and outputs, the bytes it will cost, the chat
/// template its tokenizer files hold (null when they hold none), and what its <c>tokenizer.json</c> says beside what
/// GenAI reads (null when there is none).
/// </summary>
internal sealed record ModelFolder(
    string Directory,
    string ModelType,
    int ContextLength,
    int Layers,
    int KeyValueHeads,
    int HeadSize,
    int KvElementSize,
    long WeightBytes,
    int? VocabSize,
    ModelChatTemplate? ChatTemplate,
    TokenizerFile? TokenizerFile)
{
    private const string ConfigFileName = "genai_config.json";

    // The names GenAI assumes for the KV cache when the config does not name them.
    private const string DefaultPastKeyNames = "past_key_values.%d.key";

    /// <summary>2 (key and value) × layers × KV heads × head size × element size.</summary>
    public long KvBytesPerToken => 2L * Layers * KeyValueHeads * HeadSize * KvElementSize;

    /// <summary>
    /// Reads and checks a folder; every expected problem comes back as the reason string, a chat template that does
    /// not parse included.
    /// </summary>
    public static bool TryRead(string directory, out ModelFolder? folder, out string reason)
    {
        folder = null;
        var configPath = System.IO.Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath))
        {
            reason = System.IO.Directory.Exists(directory) ? $"{configPath} is missing" : $"the folder {directory} does not exist";
            return false;
        }

        try
        {
            var model = JsonNode.Parse(File.ReadAllText(configPath))?["model"] ?? throw new InvalidDataException("no \"model\" section");
            var decoder = model["decoder"] ?? throw new InvalidDataException("no \"model.decoder\" section");
            var fileName = Required<string>(decoder, "filename", "model.decoder.filename");
            var graphPath = System.IO.Path.Combine(directory, fileName);
            if (!File.Exists(graphPath))
            {
                reason = $"{ConfigFileName} names the graph {fileName}, which is missing";
                return false;
            }

            var layers = Required<int>(decoder, "num_hidden_layers", "model.decoder.num_hidden_layers");
            var graph = OnnxGraphSignature.Read(graphPath);
            if (!TryCheckNames(decoder["inputs"], graph.Inputs, layers, "inputs", fileName, out reason)
                || !TryCheckNames(decoder["outputs"], graph.Outputs, layers, "outputs", fileName, out reason))
            {
                return false;
            }

            if (!ModelChatTemplate.TryRead(directory, out var chatTemplate, out reason))
            {
                return false;
            }

            var tokenizerFile = TokenizerFile.Read(directory);

            var pastKeyPattern = decoder["inputs"]?["past_key_names"]?.GetValue<string>()
                ?? decoder["inputs"]?["past_names"]?.GetValue<string>()
                ?? DefaultPastKeyNames;
            var pastKey = graph.Inputs.FirstOrDefault(i => i.Name == Expand(pastKeyPattern, 0));
            folder = new ModelFolder(
                directory,
                model["type"]?.GetValue<string>() ?? "unknown",
                Required<int>(model, "context_length", "model.context_length"),
                layers,
                decoder["num_key_value_heads"]?.GetValue<int>() ?? Required<int>(decoder, "num_attention_heads", "model.decoder.num_attention_heads"),
                Required<int>(decoder, "head_size", "model.decoder.head_size"),
                pastKey.Name is null ? 0 : OnnxGraphSignature.ElementSize(pastKey.ElementType),
                WeightBytesOf(directory, graphPath),
                model["vocab_size"]?.GetValue<int>(),
                chatTemplate,
                tokenizerFile);
            if (folder.KvElementSize == 0)
            {
                reason = $"{fileName} has no KV-cache input {Expand(pastKeyPattern, 0)} of a known element type";
                folder = null;
                return false;
            }

            reason = "";
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or FormatException or IOException or UnauthorizedAccessException)
        {
            reason = $"{e.GetType().Name}: {e.Message}";
            return false;
        }
    }

    private static T Required<T>(JsonNode node, string name, string path) =>
        node[name] is { } value ? value.GetValue<T>() : throw new InvalidDataException($"{ConfigFileName} lacks {path}");

    private static string Expand(string pattern, int layer) => pattern.Replace("%d", layer.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    // Every name the config gives (patterns expanded for each layer) must be one the graph has.
    private static bool TryCheckNames(JsonNode? names, IReadOnlyList<OnnxValue> graphValues, int layers, string section, string fileName, out string reason)
    {
        reason = "";
        if (names is not JsonObject entries)
        {
            return true;
        }

        var available = graphValues.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            if (value is not JsonValue text || !text.TryGetValue<string>(out var pattern))
            {
                continue;
            }

            var expanded = pattern.Contains("%d", StringComparison.Ordinal) ? Enumerable.Range(0, layers).Select(l => Expand(pattern, l)) : [pattern];
            var missing = expanded.FirstOrDefault(n => !available.Contains(n));
            if (missing is not null)
            {
                reason = $"{ConfigFileName} model.decoder.{section}.{key} names '{missing}', which {fileName} lacks (it has {string.Join(", ", available.Order(StringComparer.Ordinal).Take(8))}{(available.Count > 8 ? ", …" : "")})";
                return false;
            }
        }

        return true;
    }

    // The graph, and every external-data file beside it (the builder names them after the graph).
    private static long WeightBytesOf(string directory, string graphPath) =>
        new DirectoryInfo(directory).EnumerateFiles()
            .Where(f => f.FullName == graphPath || f.Name.StartsWith(System.IO.Path.GetFileName(graphPath) + ".", StringComparison.Ordinal) || f.Extension is ".data")
            .Sum(f => f.Length);
}
