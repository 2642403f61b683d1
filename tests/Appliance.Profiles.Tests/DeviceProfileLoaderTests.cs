using Appliance.Profiles;

namespace Appliance.Profiles.Tests;

public sealed class DeviceProfileLoaderTests
{
    private static readonly string ProfilesDirectory = Path.Combine(AppContext.BaseDirectory, "device-profiles");

    public static TheoryData<string> ShippedProfiles() => [.. ShippedProfileNames()];

    private static IEnumerable<string> ShippedProfileNames() =>
        Directory.GetFiles(ProfilesDirectory, "*.json")
            .Where(f => !f.EndsWith(".schema.json", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(Path.GetFileNameWithoutExtension)
            .OfType<string>();

    [Theory]
    [MemberData(nameof(ShippedProfiles))]
    public void Every_shipped_profile_validates(string name)
    {
        var result = DeviceProfileLoader.Load(DeviceProfileLoader.Resolve(name, ProfilesDirectory));

        Assert.True(result.Succeeded, string.Join(Environment.NewLine, result.Problems));
        Assert.Equal(name, result.Profile!.Name);
        Assert.NotEmpty(result.Profile.ExecutionProviders);
    }

    [Fact]
    public void At_least_four_boards_are_described_including_the_default()
    {
        var names = ShippedProfileNames().ToList();

        Assert.Contains(DeviceProfileLoader.DefaultProfileName, names);
        Assert.True(names.Count >= 4, $"only {names.Count} profiles");
    }

    [Theory]
    [InlineData("/threads/intraOp", "\"threads\": { \"intraOp\": 2, \"interOp\": 1 }", "\"threads\": { \"intraOp\": 0, \"interOp\": 1 }", "0 is below the minimum of 1")]
    [InlineData("/memoryBudgetMb", "\"memoryBudgetMb\": 4096", "\"memoryBudgetMb\": \"lots\"", "integer")]
    [InlineData("/gpio/driver", "\"driver\": \"simulated\"", "\"driver\": \"magic\"", "\"magic\" is not one of")]
    [InlineData("/sensors/0/address", "\"address\": \"0x44\"", "\"address\": \"68\"", "pattern \"^0x")]
    [InlineData("/colour", "\"memoryBudgetMb\": 4096,", "\"memoryBudgetMb\": 4096, \"colour\": \"blue\",", "not a field")]
    [InlineData("/audio/sampleRate", "\"sampleRate\": 16000", "\"sampleRate\": 4E6000", "out of range")] // found by fuzzing: the schema check threw
    [InlineData("/threads/intraOp", "\"intraOp\": 2", "\"intraOp\": -1E30", "out of range")]
    [InlineData("/sensors/0/busId", "\"busId\": 1", "\"busId\": 1E20", "")]
    public void A_broken_profile_is_refused_naming_the_file_the_field_and_the_reason(string field, string original, string broken, string reasonMentions)
    {
        var json = File.ReadAllText(Path.Combine(ProfilesDirectory, "dev-x64.json"));
        Assert.Contains(original, json, StringComparison.Ordinal);

        var result = DeviceProfileLoader.Parse(json.Replace(original, broken, StringComparison.Ordinal), "broken.json");

        Assert.False(result.Succeeded);
        var problem = Assert.Single(result.Problems, p => p.Field == field);
        Assert.Equal("broken.json", problem.File);
        Assert.Contains(reasonMentions, problem.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.StartsWith($"broken.json: {(field.Length == 0 ? "/" : field)}: ", problem.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_required_section_is_named()
    {
        var json = File.ReadAllText(Path.Combine(ProfilesDirectory, "dev-x64.json"));
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node.Remove("gpio");

        var result = DeviceProfileLoader.Parse(node.ToJsonString(), "no-gpio.json");

        Assert.Contains(result.Problems, p => p.Reason.Contains("gpio", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\"statusLedPin\": 27", "\"statusLedPin\": 17", "/gpio/statusLedPin", "push-to-talk")]
    [InlineData("\"intraOp\": 2", "\"intraOp\": 16", "/threads/intraOp", "cores")]
    [InlineData("\"type\": \"sht3x\"", "\"type\": \"bme280\"", "/sensors/0/simulated", "simulator")]
    [InlineData("{ \"name\": \"CPUExecutionProvider\" }", "{ \"name\": \"CUDAExecutionProvider\" }", "/executionProviders/1/name", "twice")]
    public void Rules_beyond_the_schema_are_checked(string original, string broken, string field, string reasonMentions)
    {
        var json = File.ReadAllText(Path.Combine(ProfilesDirectory, "dev-x64.json"));
        Assert.Contains(original, json, StringComparison.Ordinal);

        var result = DeviceProfileLoader.Parse(json.Replace(original, broken, StringComparison.Ordinal), "rules.json");

        var problem = Assert.Single(result.Problems);
        Assert.Equal(field, problem.Field);
        Assert.Contains(reasonMentions, problem.Reason, StringComparison.Ordinal);
    }

    /// <summary>The transcription section: its defaults, a forced language outside the list, and a bad value.</summary>
    [Fact]
    public void The_transcription_languages_and_guards_are_read_and_checked()
    {
        var json = File.ReadAllText(Path.Combine(ProfilesDirectory, "rk3588-tv.json"));
        const string Languages = "\"transcription\": { \"languages\": [\"en\", \"fa\", \"ar\", \"zh\"] }";
        Assert.Contains(Languages, json, StringComparison.Ordinal);

        var tv = DeviceProfileLoader.Parse(json, "tv.json").Profile!;
        var forcedElsewhere = DeviceProfileLoader.Parse(json.Replace(Languages, "\"transcription\": { \"languages\": [\"en\", \"fa\", \"ar\", \"zh\"], \"language\": \"de\" }", StringComparison.Ordinal), "forced.json");
        var badThreshold = DeviceProfileLoader.Parse(json.Replace(Languages, "\"transcription\": { \"noSpeechThreshold\": 1.5 }", StringComparison.Ordinal), "threshold.json");

        Assert.Equal(["en", "fa", "ar", "zh"], tv.Transcription.Languages);
        Assert.Equal((0.6, -1.0, 2.4, 5), (tv.Transcription.NoSpeechThreshold, tv.Transcription.LogProbThreshold, tv.Transcription.CompressionRatioThreshold, tv.Transcription.BestOf));
        var forced = Assert.Single(forcedElsewhere.Problems);
        Assert.Equal(("/transcription/language", "'de' is not one of the profile's languages (en, fa, ar, zh)"), (forced.Field, forced.Reason));
        Assert.Contains(badThreshold.Problems, p => p.Field == "/transcription/noSpeechThreshold");
    }

    [Fact]
    public void Invalid_json_and_a_missing_file_are_problems_not_exceptions()
    {
        var garbage = DeviceProfileLoader.Parse("{ \"name\": ", "garbage.json");
        var missing = DeviceProfileLoader.Load(Path.Combine(ProfilesDirectory, "no-such-board.json"));

        Assert.Contains("not valid JSON", Assert.Single(garbage.Problems).Reason, StringComparison.Ordinal);
        Assert.Contains("cannot read", Assert.Single(missing.Problems).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_name_resolves_to_the_profiles_folder_and_a_path_to_itself()
    {
        var byName = DeviceProfileLoader.Resolve("rk3588-tv", ProfilesDirectory);
        var byPath = DeviceProfileLoader.Resolve(byName, "/nonexistent");

        Assert.Equal(Path.Combine(ProfilesDirectory, "rk3588-tv.json"), byName);
        Assert.Equal(byName, byPath);
    }
}
