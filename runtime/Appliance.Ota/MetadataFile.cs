using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Appliance.Ota;

/// <summary>A metadata file parsed but not yet trusted: its role's metadata, the bytes its signatures cover, and the signatures.</summary>
/// <typeparam name="T">The role's metadata type.</typeparam>
internal sealed record ParsedMetadata<T>(string FileName, T Signed, byte[] Canonical, IReadOnlyList<MetadataSignature> Signatures)
    where T : RoleMetadata;

/// <summary>Reads, checks and writes signed metadata files (TUF §4.2). Stateless and thread-safe.</summary>
internal static class MetadataFile
{
    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 16 };

    /// <summary>Parses <paramref name="bytes"/> as a signed <typeparamref name="T"/> of role <paramref name="role"/>.</summary>
    /// <exception cref="OtaRefusedException"><see cref="OtaRefusalCode.Malformed"/>: not such a file.</exception>
    public static ParsedMetadata<T> Parse<T>(string fileName, ReadOnlySpan<byte> bytes, string role, JsonTypeInfo<T> typeInfo)
        where T : RoleMetadata
    {
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { MaxDepth = DocumentOptions.MaxDepth });
            using var document = JsonDocument.ParseValue(ref reader);
            var rootElement = document.RootElement;
            if (rootElement.ValueKind != JsonValueKind.Object ||
                !rootElement.TryGetProperty("signed", out var signedElement) || signedElement.ValueKind != JsonValueKind.Object ||
                !rootElement.TryGetProperty("signatures", out var signaturesElement) || signaturesElement.ValueKind != JsonValueKind.Array)
            {
                throw Malformed(fileName, "not a signed metadata file (an object with \"signed\" and \"signatures\")");
            }

            var signatures = new List<MetadataSignature>();
            foreach (var item in signaturesElement.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("keyid", out var keyId) || keyId.ValueKind != JsonValueKind.String ||
                    !item.TryGetProperty("sig", out var sig) || sig.ValueKind != JsonValueKind.String)
                {
                    throw Malformed(fileName, "a signature is not {\"keyid\": string, \"sig\": string}");
                }

                signatures.Add(new MetadataSignature(keyId.GetString()!, sig.GetString()!));
            }

            var signed = signedElement.Deserialize(typeInfo) ?? throw Malformed(fileName, "\"signed\" is null");
            if (signed.Type != role)
            {
                throw Malformed(fileName, $"\"_type\" is \"{signed.Type}\", not \"{role}\"");
            }

            if (signed.Version < 1)
            {
                throw Malformed(fileName, $"version {signed.Version} is below 1");
            }

            return new ParsedMetadata<T>(fileName, signed, CanonicalJson.Bytes(signedElement), signatures);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a name or string that is not valid UTF-8, met when it is read.
            throw Malformed(fileName, e.Message);
        }
    }

    /// <summary>
    /// Requires at least the threshold of <paramref name="role"/>'s keys in <paramref name="root"/> to have signed
    /// <paramref name="file"/>. Each key counts once, however many signatures carry its id.
    /// </summary>
    /// <exception cref="OtaRefusedException"><see cref="OtaRefusalCode.Signature"/>: too few valid signatures.</exception>
    public static void RequireThreshold<T>(ParsedMetadata<T> file, RootMetadata root, string role)
        where T : RoleMetadata
    {
        var keys = root.Roles[role];
        var valid = new HashSet<string>(StringComparer.Ordinal);
        foreach (var signature in file.Signatures)
        {
            if (keys.KeyIds.Contains(signature.KeyId) && root.Keys.TryGetValue(signature.KeyId, out var key) &&
                OtaKeys.Verify(key, file.Canonical, signature.Sig))
            {
                valid.Add(signature.KeyId);
            }
        }

        if (valid.Count < keys.Threshold)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Signature,
                $"{file.FileName}: {valid.Count} valid signature(s) of the {keys.Threshold} the {role} role needs (root version {root.Version})");
        }
    }

    /// <summary>Refuses root metadata whose roles or keys are inconsistent: a role missing, a threshold below 1 or above its keys, a key id that is not its key's hash.</summary>
    /// <exception cref="OtaRefusedException"><see cref="OtaRefusalCode.Malformed"/>.</exception>
    public static void CheckRoot(string fileName, RootMetadata root)
    {
        foreach (var (id, key) in root.Keys)
        {
            if (OtaKeys.KeyId(key) != id)
            {
                throw Malformed(fileName, $"key id {id} is not the SHA-256 of its key");
            }
        }

        foreach (var role in (string[])[Roles.Root, Roles.Targets, Roles.Snapshot, Roles.Timestamp])
        {
            if (!root.Roles.TryGetValue(role, out var keys))
            {
                throw Malformed(fileName, $"no \"{role}\" role");
            }

            var distinct = keys.KeyIds.Distinct(StringComparer.Ordinal).Count();
            if (keys.Threshold < 1 || keys.Threshold > distinct || distinct != keys.KeyIds.Count)
            {
                throw Malformed(fileName, $"role \"{role}\" has threshold {keys.Threshold} over {keys.KeyIds.Count} key id(s) ({distinct} distinct)");
            }

            if (keys.KeyIds.FirstOrDefault(k => !root.Keys.ContainsKey(k)) is { } unknown)
            {
                throw Malformed(fileName, $"role \"{role}\" names key {unknown}, which \"keys\" does not hold");
            }
        }
    }

    /// <summary>The bytes of a metadata file with <paramref name="signed"/> signed by each of <paramref name="keys"/>.</summary>
    public static byte[] Write<T>(T signed, JsonTypeInfo<T> typeInfo, IEnumerable<SigningKey> keys)
        where T : RoleMetadata
    {
        using var document = JsonSerializer.SerializeToDocument(signed, typeInfo);
        var canonical = CanonicalJson.Bytes(document.RootElement);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("signatures");
            foreach (var key in keys)
            {
                var signature = key.Sign(canonical);
                writer.WriteStartObject();
                writer.WriteString("keyid", signature.KeyId);
                writer.WriteString("sig", signature.Sig);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WritePropertyName("signed");
            document.RootElement.WriteTo(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static OtaRefusedException Malformed(string fileName, string reason) => OtaRefusedException.Of(OtaRefusalCode.Malformed, $"{fileName}: {reason}");
}
