using System.Text.Json;
using Json.Schema;

namespace Appliance.Profiles;

/// <summary>One reason a profile was refused: the file, the JSON pointer of the field, and why.</summary>
public sealed record ProfileProblem(string File, string Field, string Reason)
{
    public override string ToString() => $"{File}: {(Field.Length == 0 ? "/" : Field)}: {Reason}";
}

/// <summary>The outcome of loading a profile: either the profile or the list of problems, never both.</summary>
public sealed record ProfileLoadResult(DeviceProfile? Profile, IReadOnlyList<ProfileProblem> Problems)
{
    public bool Succeeded => Profile is not null;
}

/// <summary>
/// Finds, parses and validates device profiles. Validation is the JSON schema embedded in this assembly
/// (the same file as <c>device-profiles/device-profile.schema.json</c>) followed by checks a schema cannot
/// express (distinct pins, unique provider and sensor names, simulator availability). Thread-safe.
/// </summary>
public static class DeviceProfileLoader
{
    /// <summary>The profile used when none is named.</summary>
    public const string DefaultProfileName = "dev-x64";

    internal static readonly JsonSerializerOptions SerializerOptions = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly Lazy<JsonSchema> Schema = new(LoadSchema);

    /// <summary>
    /// Resolves <paramref name="nameOrPath"/>: an existing file path is taken as is; otherwise
    /// <c>{profilesDirectory}/{name}.json</c>.
    /// </summary>
    public static string Resolve(string nameOrPath, string profilesDirectory)
    {
        if (File.Exists(nameOrPath))
        {
            return Path.GetFullPath(nameOrPath);
        }

        var fileName = nameOrPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? nameOrPath : nameOrPath + ".json";
        return Path.GetFullPath(Path.Combine(profilesDirectory, fileName));
    }

    /// <summary>Reads and validates the profile at <paramref name="path"/>. Never throws for a bad or missing file.</summary>
    public static ProfileLoadResult Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Failed(path, "", $"cannot read the profile: {ex.Message}");
        }

        return Parse(text, path);
    }

    /// <summary>Validates profile JSON text; <paramref name="sourceName"/> names it in problems.</summary>
    public static ProfileLoadResult Parse(string json, string sourceName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            return Failed(sourceName, "", $"not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1}): {FirstSentence(ex.Message)}");
        }

        using (document)
        {
            var problems = SchemaProblems(document.RootElement, sourceName);
            if (problems.Count > 0)
            {
                return new ProfileLoadResult(null, problems);
            }

            var profile = document.RootElement.Deserialize<DeviceProfile>(SerializerOptions)!
                with { SourcePath = sourceName };
            problems = SemanticProblems(profile, sourceName);
            return problems.Count > 0 ? new ProfileLoadResult(null, problems) : new ProfileLoadResult(profile, []);
        }
    }

    private static List<ProfileProblem> SchemaProblems(JsonElement root, string file)
    {
        var results = Schema.Value.Evaluate(root, new EvaluationOptions { OutputFormat = OutputFormat.List });
        var problems = new List<ProfileProblem>();
        if (results.IsValid)
        {
            return problems;
        }

        foreach (var detail in results.Details ?? [])
        {
            if (detail.Errors is null)
            {
                continue;
            }

            foreach (var (keyword, message) in detail.Errors)
            {
                var problem = new ProfileProblem(file, detail.InstanceLocation.ToString(), message);
                if (!problems.Contains(problem))
                {
                    problems.Add(problem);
                }
            }
        }

        if (problems.Count == 0)
        {
            problems.Add(new ProfileProblem(file, "", "does not match the device profile schema"));
        }

        return problems;
    }

    private static List<ProfileProblem> SemanticProblems(DeviceProfile profile, string file)
    {
        var problems = new List<ProfileProblem>();
        if (profile.Gpio.PushToTalkPin == profile.Gpio.StatusLedPin)
        {
            problems.Add(new(file, "/gpio/statusLedPin", $"pin {profile.Gpio.StatusLedPin} is also the push-to-talk pin"));
        }

        var providers = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < profile.ExecutionProviders.Count; i++)
        {
            if (!providers.Add(profile.ExecutionProviders[i].Name))
            {
                problems.Add(new(file, $"/executionProviders/{i}/name", $"{profile.ExecutionProviders[i].Name} is listed twice"));
            }
        }

        var sensorIds = new HashSet<string>(StringComparer.Ordinal);
        var busAddresses = new HashSet<(int, int)>();
        for (var i = 0; i < profile.Sensors.Count; i++)
        {
            var sensor = profile.Sensors[i];
            if (!sensorIds.Add(sensor.Id))
            {
                problems.Add(new(file, $"/sensors/{i}/id", $"sensor id '{sensor.Id}' is used twice"));
            }

            if (!busAddresses.Add((sensor.BusId, sensor.AddressValue)))
            {
                problems.Add(new(file, $"/sensors/{i}/address", $"address {sensor.Address} on bus {sensor.BusId} is already taken by another sensor"));
            }

            if (sensor.Simulated && sensor.Type != "sht3x")
            {
                problems.Add(new(file, $"/sensors/{i}/simulated", $"no bus-level simulator exists for the {sensor.Type} chip (only sht3x)"));
            }
        }

        var threadsTotal = profile.Threads.IntraOp;
        if (threadsTotal > profile.Soc.CpuCores)
        {
            problems.Add(new(file, "/threads/intraOp", $"{threadsTotal} threads exceed the SoC's {profile.Soc.CpuCores} cores"));
        }

        return problems;
    }

    private static ProfileLoadResult Failed(string file, string field, string reason) => new(null, [new ProfileProblem(file, field, reason)]);

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(". ", StringComparison.Ordinal);
        return end < 0 ? message : message[..(end + 1)];
    }

    private static JsonSchema LoadSchema()
    {
        // Messages a technician can act on, naming the offending value and what is allowed.
        ErrorMessages.Enum = "[[received]] is not one of [[values]]";
        ErrorMessages.Pattern = "does not match the pattern [[pattern]]";
        ErrorMessages.FalseSchema = "is not a field of the device profile (check the spelling)";
        ErrorMessages.Type = "is [[received]] but must be [[expected]]";
        ErrorMessages.Minimum = "[[received]] is below the minimum of [[limit]]";
        ErrorMessages.Maximum = "[[received]] is above the maximum of [[limit]]";
        ErrorMessages.Required = "required field(s) missing: [[missing]]";
        ErrorMessages.MinItems = "has [[received]] entries; at least [[limit]] needed";
        ErrorMessages.MinLength = "must not be empty";
        ErrorMessages.Const = "must be [[value]]";

        using var stream = typeof(DeviceProfileLoader).Assembly.GetManifestResourceStream("device-profile.schema.json")
            ?? throw new InvalidOperationException("The device profile schema is not embedded in Appliance.Profiles.");
        using var reader = new StreamReader(stream);
        return JsonSchema.FromText(reader.ReadToEnd());
    }
}
