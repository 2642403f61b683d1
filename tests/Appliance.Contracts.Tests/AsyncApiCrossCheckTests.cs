using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using Appliance.Profiles;

namespace Appliance.Contracts.Tests;

/// <summary>
/// The contract's types held against <c>docs/asyncapi.yaml</c>, both ways: every channel, RPC method and schema of the
/// document has its type, address, QoS and retain flag in <see cref="Channels"/> and <see cref="RpcMethods"/>, every type
/// that goes on the wire has its schema, and each schema names exactly the JSON properties its type writes.
/// </summary>
public sealed class AsyncApiCrossCheckTests
{
    /// <summary>Schemas of MQTT properties (headers), not payloads.</summary>
    private static readonly string[] HeaderSchemas = ["RequestProperties", "ReplyProperties", "MeetingControlProperties", "MeetingAudioProperties"];

    /// <summary>Types whose schema is a published JSON Schema file: compared at the top level only.</summary>
    private static readonly Type[] ExternalSchemaTypes = [typeof(DeviceProfile), typeof(MeetingSummary)];

    private readonly AsyncApiDocument _document = AsyncApiDocument.Load();

    [Fact]
    public void Every_channel_of_the_document_is_a_contract_channel_with_the_same_address_qos_retain_and_payload()
    {
        var documented = _document.Channels.Select(c => c.Key).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(documented, Channels.All.Select(c => c.Name).Order(StringComparer.Ordinal));
        foreach (var channel in Channels.All)
        {
            var node = _document.Channels[channel.Name]!;
            Assert.Equal(node["address"]!.GetValue<string>(), channel.Address);
            foreach (var operation in OperationsOf(channel.Name))
            {
                var mqtt = operation["bindings"]!["mqtt"]!;
                Assert.True((int)channel.Qos == mqtt["qos"]!.GetValue<long>(), $"{channel.Name}: QoS {channel.Qos} in the contract, {mqtt["qos"]} in the document");
                if (mqtt["retain"] is { } retain)
                {
                    Assert.True(channel.Retained == retain.GetValue<bool>(), $"{channel.Name}: retained {channel.Retained} in the contract, {retain} in the document");
                }
            }

            if (channel.PayloadType is { } payloadType)
            {
                // A reply message is the envelope with the method's types: allOf [RpcReply, {result, delta}].
                var payloads = node["messages"]!.AsObject()
                    .Select(m => _document.Resolve(m.Value!)["payload"])
                    .Select(p => AsyncApiDocument.SchemaName(p) ?? AsyncApiDocument.SchemaName(p?["allOf"]?[0]))
                    .Distinct()
                    .ToList();
                Assert.Equal([payloadType.Name], payloads);
            }
        }
    }

    [Fact]
    public void Every_rpc_method_has_a_request_and_a_reply_message_with_its_types_and_nothing_else_is_documented()
    {
        var requests = Messages("rpcRequest");
        var replies = Messages("rpcReply");
        Assert.Equal(RpcMethods.All.Select(m => m.Name).Order(StringComparer.Ordinal), requests.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(RpcMethods.All.Select(m => m.Name).Order(StringComparer.Ordinal), replies.Keys.Order(StringComparer.Ordinal));
        var methodParameter = _document.Channels["rpcRequest"]!["parameters"]!["method"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>());
        Assert.Equal(RpcMethods.All.Select(m => m.Name), methodParameter);
        foreach (var method in RpcMethods.All)
        {
            Assert.Equal(method.ParamsType.Name, AsyncApiDocument.SchemaName(requests[method.Name]["payload"]));
            var reply = replies[method.Name]["payload"]!["allOf"]!.AsArray();
            Assert.Equal(nameof(RpcReply), AsyncApiDocument.SchemaName(reply[0]));
            var typed = reply[1]!["properties"]!;
            Assert.Equal(method.ResultType.Name, AsyncApiDocument.SchemaName(typed["result"]));
            Assert.Equal(method.DeltaType?.Name, AsyncApiDocument.SchemaName(typed["delta"]));
        }
    }

    [Fact]
    public void Every_wire_type_has_a_schema_with_its_json_properties_and_every_schema_has_a_type()
    {
        var types = WireTypes();
        var schemas = _document.Schemas.Select(s => s.Key).Except(HeaderSchemas).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(schemas, types.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var type in types)
        {
            var schema = _document.Resolve(_document.Schemas[type.Name]!);
            var info = ContractJsonContext.Default.GetTypeInfo(type)!;
            if (type.IsEnum)
            {
                var values = Enum.GetValues(type).Cast<object>().Select(v => JsonSerializer.SerializeToElement(v, info).GetString()).Order(StringComparer.Ordinal);
                Assert.Equal(values, schema["enum"]!.AsArray().Select(v => v!.GetValue<string>()).Order(StringComparer.Ordinal));
                continue;
            }

            if (info.PolymorphismOptions is { } polymorphism)
            {
                var variants = schema["oneOf"]!.AsArray().Select(AsyncApiDocument.SchemaName).Order(StringComparer.Ordinal);
                Assert.Equal(polymorphism.DerivedTypes.Select(d => d.DerivedType.Name).Order(StringComparer.Ordinal), variants);
                continue;
            }

            // "$schema" lets a profile file name the schema it follows, for editors; it is not the type's.
            var documented = schema["properties"]!.AsObject().Select(p => p.Key).Where(k => k != "$schema").Order(StringComparer.Ordinal).ToList();
            var written = Written(info).Select(p => p.Name).ToList();
            if (Discriminator(type) is { } discriminator)
            {
                written.Add("type");
                Assert.Equal(discriminator, schema["properties"]!["type"]!["const"]!.GetValue<string>());
            }

            Assert.True(documented.SequenceEqual(written.Order(StringComparer.Ordinal)), $"{type.Name}: the document names {string.Join(", ", documented)}; the type writes {string.Join(", ", written.Order(StringComparer.Ordinal))}");
        }
    }

    [Fact]
    public void The_error_codes_of_the_document_are_the_contracts_and_the_libraries_return_only_contract_codes()
    {
        var documented = _document.Schemas["RpcError"]!["properties"]!["code"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(RpcErrorCodes.All.Concat(SensorErrorCodes.All).Order(StringComparer.Ordinal), documented.Order(StringComparer.Ordinal));
        Assert.Subset(RpcErrorCodes.All.ToHashSet(StringComparer.Ordinal), Constants(typeof(Llm.LlmErrorCodes)));
        Assert.Equal(SensorErrorCodes.All.Order(StringComparer.Ordinal), Constants(typeof(Hardware.SensorErrorCodes)).Order(StringComparer.Ordinal));
    }

    private static HashSet<string> Constants(Type holder) =>
        holder.GetFields().Where(f => f.IsLiteral).Select(f => (string)f.GetRawConstantValue()!).ToHashSet(StringComparer.Ordinal);

    /// <summary>The operations of a channel.</summary>
    private IEnumerable<JsonNode> OperationsOf(string channel) =>
        _document.Operations.Select(o => o.Value!).Where(o => o["channel"]!["$ref"]!.GetValue<string>() == $"#/channels/{channel}");

    /// <summary>A channel's messages by their <c>name</c>.</summary>
    private Dictionary<string, JsonNode> Messages(string channel) =>
        _document.Channels[channel]!["messages"]!.AsObject().Select(m => _document.Resolve(m.Value!)).ToDictionary(m => m["name"]!.GetValue<string>(), StringComparer.Ordinal);

    /// <summary>Every type that goes on the wire: channel payloads and RPC types, and what they hold, transitively.</summary>
    private static List<Type> WireTypes()
    {
        var roots = Channels.All.Select(c => c.PayloadType)
            .Concat(RpcMethods.All.SelectMany(m => new[] { m.ParamsType, m.ResultType, m.DeltaType }))
            .OfType<Type>();
        var seen = new HashSet<Type>();
        var pending = new Queue<Type>(roots);
        while (pending.TryDequeue(out var type))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            var info = ContractJsonContext.Default.GetTypeInfo(type)!;
            if (info.Kind is JsonTypeInfoKind.Enumerable or JsonTypeInfoKind.Dictionary)
            {
                pending.Enqueue(info.ElementType!);
                continue;
            }

            if ((info.Kind == JsonTypeInfoKind.None && !type.IsEnum) || !seen.Add(type) || ExternalSchemaTypes.Contains(type))
            {
                continue;
            }

            foreach (var property in Written(info))
            {
                pending.Enqueue(property.PropertyType);
            }

            foreach (var derived in info.PolymorphismOptions?.DerivedTypes ?? [])
            {
                pending.Enqueue(derived.DerivedType);
            }
        }

        return [.. seen];
    }

    /// <summary>The properties a type writes: its JSON properties less those marked <c>[JsonIgnore]</c>.</summary>
    private static IEnumerable<JsonPropertyInfo> Written(JsonTypeInfo info) =>
        info.Properties.Where(p => p.AttributeProvider?.GetCustomAttributes(typeof(System.Text.Json.Serialization.JsonIgnoreAttribute), true) is not { Length: > 0 } ignore
            || ((System.Text.Json.Serialization.JsonIgnoreAttribute)ignore[0]).Condition != System.Text.Json.Serialization.JsonIgnoreCondition.Always);

    /// <summary>The <c>type</c> value of a derived type of a polymorphic contract type, or null.</summary>
    private static string? Discriminator(Type type) =>
        type.BaseType is { } baseType && ContractJsonContext.Default.GetTypeInfo(baseType)?.PolymorphismOptions is { } options
            ? options.DerivedTypes.FirstOrDefault(d => d.DerivedType == type).TypeDiscriminator as string
            : null;
}
