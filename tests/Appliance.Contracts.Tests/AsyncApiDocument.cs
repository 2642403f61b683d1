using System.Globalization;
using System.Text.Json.Nodes;
using YamlDotNet.RepresentationModel;

namespace Appliance.Contracts.Tests;

/// <summary>
/// <c>docs/asyncapi.yaml</c> as a JSON tree, with <c>$ref</c>s resolved: local ones (<c>#/…</c>) inside the document, and
/// relative file references against the document's folder.
/// </summary>
internal sealed class AsyncApiDocument
{
    private readonly string _folder;

    private AsyncApiDocument(JsonObject root, string folder)
    {
        Root = root;
        _folder = folder;
    }

    public JsonObject Root { get; }

    public static AsyncApiDocument Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "contract", "asyncapi.yaml");
        var yaml = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            yaml.Load(reader);
        }

        return new AsyncApiDocument((JsonObject)ToJson(yaml.Documents[0].RootNode)!, Path.GetDirectoryName(path)!);
    }

    public JsonObject Channels => Root["channels"]!.AsObject();

    public JsonObject Operations => Root["operations"]!.AsObject();

    public JsonObject Schemas => Root["components"]!["schemas"]!.AsObject();

    /// <summary>The node a <c>$ref</c> points at, followed until it is not a reference.</summary>
    public JsonNode Resolve(JsonNode node)
    {
        while (node is JsonObject o && o["$ref"]?.GetValue<string>() is { } reference)
        {
            node = reference.StartsWith('#')
                ? reference[2..].Split('/').Aggregate((JsonNode)Root, (at, key) => at[key] ?? throw new KeyNotFoundException($"{reference} does not resolve"))
                : JsonNode.Parse(File.ReadAllText(Path.GetFullPath(Path.Combine(_folder, reference))))!;
        }

        return node;
    }

    /// <summary>The schema name a <c>$ref: '#/components/schemas/X'</c> names, or null.</summary>
    public static string? SchemaName(JsonNode? node) =>
        node is JsonObject o && o["$ref"]?.GetValue<string>() is { } reference && reference.StartsWith("#/components/schemas/", StringComparison.Ordinal)
            ? reference["#/components/schemas/".Length..]
            : null;

    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, ToJson(c.Value)))),
        YamlSequenceNode list => new JsonArray([.. list.Children.Select(ToJson)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException(node.GetType().Name),
    };

    private static JsonValue? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not YamlDotNet.Core.ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        return text switch
        {
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            "null" or "~" or "" => null,
            _ when long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var integer) => JsonValue.Create(integer),
            _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
            _ => JsonValue.Create(text),
        };
    }
}
