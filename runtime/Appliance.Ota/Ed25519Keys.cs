using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using NSec.Cryptography;

namespace Appliance.Ota;

/// <summary>
/// An Ed25519 key pair for signing repository metadata (NSec over libsodium). Owns its native key: dispose it. Not
/// for use from several threads at once.
/// </summary>
public sealed class SigningKey : IDisposable
{
    private static readonly SignatureAlgorithm Algorithm = SignatureAlgorithm.Ed25519;
    private readonly Key _key;

    private SigningKey(Key key)
    {
        _key = key;
        Public = OtaKeys.Entry(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
        KeyId = OtaKeys.KeyId(Public);
    }

    /// <summary>The public half as root metadata lists it.</summary>
    public KeyEntry Public { get; }

    /// <summary>The key's id: lowercase hex SHA-256 of the canonical form of <see cref="Public"/>.</summary>
    public string KeyId { get; }

    /// <summary>A new random key.</summary>
    public static SigningKey Generate() =>
        new(Key.Create(Algorithm, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>Reads a key written by <see cref="Save"/>.</summary>
    /// <exception cref="InvalidDataException">The file is not a private Ed25519 key of this format.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static SigningKey Load(string path)
    {
        PrivateKeyFile? file;
        try
        {
            file = JsonSerializer.Deserialize(File.ReadAllBytes(path), OtaJson.Default.PrivateKeyFile);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a signing key file ({e.Message})", e);
        }

        if (file is not { KeyType: "ed25519", Private: { Length: 64 } hex } || !OtaKeys.TryHex(hex, out var seed) ||
            !Key.TryImport(Algorithm, seed, KeyBlobFormat.RawPrivateKey, out var key, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }) || key is null)
        {
            throw new InvalidDataException($"{path}: not a private Ed25519 key (keytype ed25519, private: 32 bytes in hex)");
        }

        return new SigningKey(key);
    }

    /// <summary>Writes the private key to <paramref name="path"/>, readable by its owner only, and the public entry beside it as <c>{path}.pub</c>.</summary>
    /// <exception cref="IOException">A file cannot be written.</exception>
    public void Save(string path)
    {
        var file = new PrivateKeyFile("ed25519", OtaKeys.Hex(_key.Export(KeyBlobFormat.RawPrivateKey)), Public.KeyVal.Public);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using (var stream = new FileStream(path, options))
        {
            JsonSerializer.Serialize(stream, file, OtaJson.Default.PrivateKeyFile);
        }

        File.WriteAllBytes(path + ".pub", JsonSerializer.SerializeToUtf8Bytes(Public, OtaJson.Default.KeyEntry));
    }

    /// <summary>The signature of <paramref name="canonical"/> (64 bytes, lowercase hex).</summary>
    public MetadataSignature Sign(ReadOnlySpan<byte> canonical) => new(KeyId, OtaKeys.Hex(Algorithm.Sign(_key, canonical)));

    /// <inheritdoc />
    public void Dispose() => _key.Dispose();
}

/// <summary>The private key file: <c>{"keytype": "ed25519", "private": hex, "public": hex}</c>.</summary>
internal sealed record PrivateKeyFile(
    [property: JsonPropertyName("keytype")] string KeyType,
    [property: JsonPropertyName("private")] string Private,
    [property: JsonPropertyName("public")] string Public);

/// <summary>Key ids, hex, and Ed25519 verification.</summary>
public static class OtaKeys
{
    /// <summary>The key entry of a raw 32-byte Ed25519 public key.</summary>
    public static KeyEntry Entry(ReadOnlySpan<byte> publicKey) => new() { KeyVal = new KeyValue(Hex(publicKey)) };

    /// <summary>The id of <paramref name="key"/>: lowercase hex SHA-256 of its canonical JSON (TUF §4.2).</summary>
    public static string KeyId(KeyEntry key)
    {
        using var document = JsonSerializer.SerializeToDocument(key, OtaJson.Default.KeyEntry);
        return Hex(SHA256.HashData(CanonicalJson.Bytes(document.RootElement)));
    }

    /// <summary>Whether <paramref name="signature"/> (hex) is a valid Ed25519 signature of <paramref name="canonical"/> by <paramref name="key"/>; false for any malformed key or signature.</summary>
    public static bool Verify(KeyEntry key, ReadOnlySpan<byte> canonical, string signature)
    {
        if (key is not { KeyType: "ed25519", Scheme: "ed25519" } || !TryHex(key.KeyVal.Public, out var raw) || !TryHex(signature, out var sig) || sig.Length != 64 ||
            !PublicKey.TryImport(SignatureAlgorithm.Ed25519, raw, KeyBlobFormat.RawPublicKey, out var publicKey) || publicKey is null)
        {
            return false;
        }

        return SignatureAlgorithm.Ed25519.Verify(publicKey, canonical, sig);
    }

    /// <summary>Lowercase hex of <paramref name="bytes"/>.</summary>
    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    /// <summary>Parses hex (either case); false for anything else.</summary>
    public static bool TryHex(string? hex, out byte[] bytes)
    {
        bytes = [];
        if (hex is null || hex.Length % 2 != 0)
        {
            return false;
        }

        try
        {
            bytes = Convert.FromHexString(hex);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
