using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Llm.ChatTemplates;

/// <summary>
/// A model folder's chat template and the special tokens it is rendered with, as Hugging Face tokenizers find
/// them: the <c>chat_template.jinja</c> file when there is one (it takes precedence, as in Python's
/// transformers), otherwise <c>chat_template</c> of <c>tokenizer_config.json</c>: a string, or a list of
/// <c>{name, template}</c> of which the one named <c>default</c> is taken.
/// </summary>
internal sealed class ModelChatTemplate
{
    /// <summary>The tokenizer's configuration file in a model folder.</summary>
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>The file that holds the template alone, beside the configuration.</summary>
    public const string TemplateFileName = "chat_template.jinja";

    // The special tokens both Python's and JavaScript's transformers pass to templates, when the config sets them.
    private static readonly string[] s_specialTokens = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private readonly JinjaTemplate _template;
    private readonly IReadOnlyDictionary<string, string> _specialTokens;

    private ModelChatTemplate(JinjaTemplate template, string origin, IReadOnlyDictionary<string, string> specialTokens)
    {
        _template = template;
        Origin = origin;
        _specialTokens = specialTokens;
    }

    /// <summary>Where the template was read from, for messages: a file name, with the key for the config.</summary>
    public string Origin { get; }

    /// <summary>
    /// Reads and parses the template of a model folder. Special tokens are strings, or objects whose
    /// <c>content</c> is the string (Hugging Face's <c>AddedToken</c>); unset or null ones are left undefined.
    /// </summary>
    /// <returns>True with the template, or true with null when the folder has none; false with the reason when
    /// the configuration cannot be read or the template does not parse (the reason names the file, line and column).</returns>
    public static bool TryRead(string directory, out ModelChatTemplate? template, out string reason)
    {
        template = null;
        reason = "";
        var configPath = Path.Combine(directory, ConfigFileName);
        var templatePath = Path.Combine(directory, TemplateFileName);
        var origin = ConfigFileName;
        try
        {
            var config = File.Exists(configPath) ? JsonNode.Parse(File.ReadAllText(configPath)) as JsonObject : null;
            string? source;
            if (File.Exists(templatePath))
            {
                origin = TemplateFileName;
                source = File.ReadAllText(templatePath);
            }
            else
            {
                source = TemplateOf(config?["chat_template"]);
                origin = $"{ConfigFileName} chat_template";
            }

            if (source is null)
            {
                return true;
            }

            var tokens = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var name in s_specialTokens)
            {
                if (TokenText(config?[name]) is { } text)
                {
                    tokens[name] = text;
                }
            }

            template = new ModelChatTemplate(JinjaTemplate.Parse(source), origin, tokens);
            return true;
        }
        catch (TemplateSyntaxException e)
        {
            reason = $"the chat template ({origin}) does not parse: {e.Message}";
        }
        catch (Exception e) when (e is JsonException or InvalidDataException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            reason = $"the chat template cannot be read from {origin}: {e.Message}";
        }

        return false;
    }

    /// <summary>
    /// Renders a conversation as the model's prompt: <c>messages</c> (each with <c>role</c> and <c>content</c>),
    /// <c>add_generation_prompt</c> true, <c>tools</c> and <c>documents</c> none, and the special tokens.
    /// </summary>
    /// <exception cref="TemplateRenderException">The template failed; <see cref="TemplateRaisedException"/> when it
    /// refused the conversation with <c>raise_exception</c>.</exception>
    public string Render(IReadOnlyList<LlmMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var variables = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = messages.Select(m => (object?)new OrderedDictionary<string, object?>(StringComparer.Ordinal) { ["role"] = m.Role, ["content"] = m.Content }).ToArray(),
            ["add_generation_prompt"] = true,
            ["tools"] = null,
            ["documents"] = null,
        };
        foreach (var (name, text) in _specialTokens)
        {
            variables[name] = text;
        }

        return _template.Render(variables);
    }

    private static string? TemplateOf(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return null;
            case JsonValue value when value.TryGetValue<string>(out var text):
                return text;
            case JsonArray list:
                var named = list.Select(entry => (Name: entry?["name"]?.GetValue<string>(), Template: entry?["template"]?.GetValue<string>())).ToList();
                if (named.Any(n => n.Name is null || n.Template is null))
                {
                    throw new InvalidDataException("chat_template is a list whose entries are not all {\"name\", \"template\"} strings");
                }

                return named.FirstOrDefault(n => n.Name == "default").Template
                    ?? throw new InvalidDataException($"chat_template names {string.Join(", ", named.Select(n => n.Name))} but no 'default'");
            default:
                throw new InvalidDataException("chat_template is neither a string nor a list of named templates");
        }
    }

    private static string? TokenText(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonObject added when added["content"] is JsonValue content && content.TryGetValue<string>(out var text) => text,
        _ => null,
    };
}
