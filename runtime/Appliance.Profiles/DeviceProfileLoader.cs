using System.Text.Json;
using Json.Schema;

namespace Appliance.Profiles;

/// <summary>One reason a profile was refused: the file, the JSON pointer of the field, and why.</summary>
/// <param name="File">The profile's path, or the source name given to <see cref="DeviceProfileLoader.Parse"/>.</param>
/// <param name="Field">The JSON pointer of the offending field, for example <c>/gpio/statusLedPin</c>; empty for the whole document.</param>
/// <param name="Reason">Why the field was refused, in words a technician can act on.</param>
public sealed record ProfileProblem(string File, string Field, string Reason)
{
    /// <summary>The problem as one line of the daemon's start-up error: <c>file: /field: reason</c>, with <c>/</c> for the whole document.</summary>
    public override string ToString() => $"{File}: {(Field.Length == 0 ? "/" : Field)}: {Reason}";
}

/// <summary>The outcome of loading a profile: either the profile or the list of problems, never both.</summary>
/// <param name="Profile">The validated profile; null when it was refused.</param>
/// <param name="Problems">Every reason the profile was refused; empty when it was loaded.</param>
public sealed record ProfileLoadResult(DeviceProfile? Profile, IReadOnlyList<ProfileProblem> Problems)
{
    /// <summary>Whether the profile was loaded, so <see cref="Profile"/> is set and <see cref="Problems"/> is empty.</summary>
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
    /// <param name="nameOrPath">A profile name such as <c>rpi5-fridge</c> (with or without <c>.json</c>), or a file path.</param>
    /// <param name="profilesDirectory">The folder of the shipped profiles, usually <c>device-profiles/</c>.</param>
    /// <returns>An absolute path; the file is not required to exist (<see cref="Load"/> reports a missing one).</returns>
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
    /// <param name="path">The profile file, typically from <see cref="Resolve"/>.</param>
    /// <returns>The profile, or the problems found, an unreadable file included.</returns>
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
    /// <param name="json">The profile as JSON; comments and trailing commas are allowed.</param>
    /// <param name="sourceName">The file name (or other label) used in problems and as <see cref="DeviceProfile.SourcePath"/>.</param>
    /// <returns>The profile, or every schema problem (or, when the schema is met, every rule problem) found.</returns>
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
            // The schema library compares numbers as decimals and throws on one beyond that range (1E400, found by
            // fuzzing): such numbers are refused first, each at its place.
            var problems = OutOfRangeNumbers(document.RootElement, "", sourceName);
            if (problems.Count == 0)
            {
                problems = SchemaProblems(document.RootElement, sourceName);
            }

            if (problems.Count > 0)
            {
                return new ProfileLoadResult(null, problems);
            }

            DeviceProfile profile;
            try
            {
                profile = document.RootElement.Deserialize<DeviceProfile>(SerializerOptions)! with { SourcePath = sourceName };
            }
            catch (JsonException ex)
            {
                return Failed(sourceName, Pointer(ex.Path), FirstSentence(ex.Message));
            }

            problems = SemanticProblems(profile, sourceName);
            return problems.Count > 0 ? new ProfileLoadResult(null, problems) : new ProfileLoadResult(profile, []);
        }
    }

    /// <summary>The JSON pointer of a System.Text.Json path (<c>$.sensors[0].busId</c> is <c>/sensors/0/busId</c>).</summary>
    private static string Pointer(string? path) =>
        path is null ? "" : System.Text.RegularExpressions.Regex.Replace(path.TrimStart('$'), @"\[(\d+)\]|\.", m => m.Value == "." ? "/" : "/" + m.Groups[1].Value);

    /// <summary>Every number of the document that does not fit a decimal (about ±7.9E28), with its JSON pointer.</summary>
    private static List<ProfileProblem> OutOfRangeNumbers(JsonElement element, string pointer, string file)
    {
        var problems = new List<ProfileProblem>();
        switch (element.ValueKind)
        {
            case JsonValueKind.Number when !element.TryGetDecimal(out _):
                problems.Add(new ProfileProblem(file, pointer, $"{element.GetRawText()} is out of range"));
                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    problems.AddRange(OutOfRangeNumbers(property.Value, $"{pointer}/{property.Name.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal)}", file));
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    problems.AddRange(OutOfRangeNumbers(item, $"{pointer}/{index++}", file));
                }

                break;
        }

        return problems;
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

        var doorIds = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < profile.Gpio.Doors.Count; i++)
        {
            var door = profile.Gpio.Doors[i];
            if (!doorIds.Add(door.Id) || profile.Sensors.Any(s => s.Id == door.Id))
            {
                problems.Add(new(file, $"/gpio/doors/{i}/id", $"id '{door.Id}' is used twice among the sensors and doors"));
            }

            var taken = door.Pin == profile.Gpio.PushToTalkPin ? "the push-to-talk pin"
                : door.Pin == profile.Gpio.StatusLedPin ? "the status LED pin"
                : profile.Gpio.Doors.Take(i).Any(d => d.Pin == door.Pin) ? "another door's pin"
                : null;
            if (taken is not null)
            {
                problems.Add(new(file, $"/gpio/doors/{i}/pin", $"pin {door.Pin} is also {taken}"));
            }
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

        var transcription = profile.Transcription;
        if (transcription.Language is { } forced && transcription.Languages is { } allowed && !allowed.Contains(forced, StringComparer.Ordinal))
        {
            problems.Add(new(file, "/transcription/language", $"'{forced}' is not one of the profile's languages ({string.Join(", ", allowed)})"));
        }

        if (profile.Commands is { } commands)
        {
            problems.AddRange(CommandSchemaCheck.Problems(commands, transcription.Languages, profile.Sensors, profile.Gpio.Doors, file));
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
