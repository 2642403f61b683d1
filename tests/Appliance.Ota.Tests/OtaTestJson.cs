using System.Text.Json;

namespace Appliance.Ota.Tests;

internal static class OtaTestJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web);
}
