using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Ota;

/// <summary>
/// The serializer of repository metadata and the device's OTA state: System.Text.Json source generation, names as the
/// types give them (TUF's snake_case for the standard fields, camelCase for this product's), nulls omitted.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = true)]
[JsonSerializable(typeof(RootMetadata))]
[JsonSerializable(typeof(TargetsMetadata))]
[JsonSerializable(typeof(SnapshotMetadata))]
[JsonSerializable(typeof(TimestampMetadata))]
[JsonSerializable(typeof(KeyEntry))]
[JsonSerializable(typeof(PrivateKeyFile))]
[JsonSerializable(typeof(SlotState))]
[JsonSerializable(typeof(SlotManifest))]
internal sealed partial class OtaJson : JsonSerializerContext;
