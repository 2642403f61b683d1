using System.Text.Json.Nodes;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>Variants of the shipped dev-x64 profile written to temporary files, for tests that need another board shape.</summary>
internal static class TestProfiles
{
    public static string DevX64Path => Path.Combine(AppContext.BaseDirectory, "device-profiles", "dev-x64.json");

    /// <summary>Writes dev-x64 changed by <paramref name="edit"/> and returns the file's path.</summary>
    public static string Write(Action<JsonObject> edit)
    {
        var profile = JsonNode.Parse(File.ReadAllText(DevX64Path))!.AsObject();
        edit(profile);
        var path = Path.Combine(Path.GetTempPath(), $"profile-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, profile.ToJsonString());
        return path;
    }

    /// <summary>
    /// Copies <paramref name="sections"/> (such as <c>commands</c>, <c>sensors</c>, or a field inside one as
    /// <c>gpio/doors</c>) of the shipped profile <paramref name="board"/> into <paramref name="profile"/>.
    /// </summary>
    public static void TakeFrom(JsonObject profile, string board, params string[] sections)
    {
        var shipped = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "device-profiles", board + ".json")))!;
        foreach (var section in sections)
        {
            var path = section.Split('/');
            JsonNode from = shipped, into = profile;
            foreach (var name in path[..^1])
            {
                (from, into) = (from[name]!, into[name]!);
            }

            into[path[^1]] = from[path[^1]]!.DeepClone();
        }
    }

    /// <summary>
    /// dev-x64 with the fridge's commands, languages and door on its simulated GPIO, less the fridge's temperature
    /// question (its sensors are the fridge board's I2C chips, absent here), then changed by <paramref name="edit"/>.
    /// </summary>
    public static string FridgeWithDoor(Action<JsonObject>? edit = null) => Write(p =>
    {
        TakeFrom(p, "rpi5-fridge", "commands", "transcription", "gpio/doors");
        var intents = p["commands"]!["intents"]!.AsArray();
        intents.Remove(intents.Single(i => (string?)i!["name"] == "temperature_query"));
        edit?.Invoke(p);
    });

    /// <summary>dev-x64 with its climate sensor polled every second.</summary>
    public static string FastSensor() => Write(p => p["sensors"]![0]!["intervalSeconds"] = 1);
}
