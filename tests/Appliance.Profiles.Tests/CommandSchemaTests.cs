using System.Text.Json.Nodes;
using Appliance.Profiles;

namespace Appliance.Profiles.Tests;

/// <summary>The profile's <c>commands</c> section: the shipped schemas, the template syntax, and every way a maker's schema can be wrong.</summary>
public sealed class CommandSchemaTests
{
    private static readonly string ProfilesDirectory = Path.Combine(AppContext.BaseDirectory, "device-profiles");

    [Theory]
    [InlineData("rk3588-tv", "power volume_set volume_step volume_nudge mute channel_number channel_name input_source app_launch playback")]
    [InlineData("rpi5-fridge", "fridge_temperature_set freezer_temperature_set mode_set vacation_mode shopping_list_add timer_set temperature_query door_query")]
    public void The_tv_and_fridge_profiles_ship_their_command_schemas(string profile, string intents)
    {
        var commands = DeviceProfileLoader.Load(Path.Combine(ProfilesDirectory, profile + ".json")).Profile!.Commands!;

        Assert.Equal(intents.Split(' '), commands.Intents.Select(i => i.Name));
        Assert.All(commands.Intents, i => Assert.NotEmpty(i.Templates["en"]));
    }

    [Fact]
    public void The_fridge_schema_holds_the_compartments_limits_and_asks_before_vacation_mode()
    {
        var commands = DeviceProfileLoader.Load(Path.Combine(ProfilesDirectory, "rpi5-fridge.json")).Profile!.Commands!;

        Assert.Equal((1L, 8L), (commands.Find("fridge_temperature_set")!.Slot("celsius")!.Min!.Value, commands.Find("fridge_temperature_set")!.Slot("celsius")!.Max!.Value));
        Assert.Equal((-24L, -16L), (commands.Find("freezer_temperature_set")!.Slot("celsius")!.Min!.Value, commands.Find("freezer_temperature_set")!.Slot("celsius")!.Max!.Value));
        Assert.True(commands.Find("vacation_mode")!.Confirm);
        Assert.False(commands.Find("mode_set")!.Confirm);
    }

    [Theory]
    [InlineData("[set] [the] volume to {level}", 5)]
    [InlineData("(turn|switch) {state} [the] (tv|television)", 4)]
    [InlineData("a [b (c|d [e])] f", 3)]
    public void A_template_parses_into_its_parts(string text, int parts)
    {
        Assert.True(SentenceTemplate.TryParse(text, out var template, out var error), error);
        Assert.Equal(parts, template!.Parts.Count);
    }

    [Theory]
    [InlineData("volume (up|down", "'(' is never closed")]
    [InlineData("volume up)", "')' at character 10 closes no '('")]
    [InlineData("volume [up)", "')' at character 11 closes no '('")]
    [InlineData("up|down", "'|' at character 3 is outside a group")]
    [InlineData("set {Level}", "does not start a slot")]
    [InlineData("set {level", "does not start a slot")]
    [InlineData("set level}", "'}' at character 10 closes no slot")]
    [InlineData("[please] [now]", "can match an empty sentence")]
    [InlineData("   ", "can match an empty sentence")]
    public void A_broken_template_is_refused_with_its_reason(string text, string reason)
    {
        Assert.False(SentenceTemplate.TryParse(text, out var template, out var error));
        Assert.Null(template);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/commands/intents/0/templates/en/0", "volume to {lvl}", null, "{lvl} names no slot of 'volume_set'")]
    [InlineData("/commands/intents/0/templates/en/0", "volume [to {level}]", null, "slot {level} must be said in every way")]
    [InlineData("/commands/intents/0/templates/en/0", "volume {level} (or|and) {level}", null, "slot {level} can be said twice")]
    [InlineData("/commands/intents/0/templates/en/0", "volume (to {level}", null, "'(' is never closed")]
    [InlineData("/commands/intents/0/templates/de", null, "de", "'de' is not one of the profile's languages")]
    [InlineData("/commands/intents/1/name", "volume_set", "rename", "intent 'volume_set' is declared twice")]
    [InlineData("/commands/intents/1/name", "not_understood", "rename", "'not_understood' is built in")]
    [InlineData("/commands/intents/0/slots/0", null, "no-max", "an integer slot needs both min and max")]
    [InlineData("/commands/intents/0/slots/0/min", null, "min-above-max", "min 200 is above max 100")]
    [InlineData("/commands/intents/0/reply/en", null, "reply", "'{volume}' names no slot of 'volume_set'")]
    [InlineData("/commands/intents/1/slots/0/values", null, "empty-enum", "")]
    [InlineData("/commands/intents/1/answer/sensorSlot", null, "answer-not-a-sensor", "value 'on' of slot 'state' is not a sensor of this profile (climate)")]
    [InlineData("/commands/intents/1/answer/sensorSlot", null, "answer-no-slot", "'room' is not an enum slot of 'mute'")]
    [InlineData("/commands/intents/1/answer/sensorSlot", null, "door-answer-not-a-door", "value 'on' of slot 'state' is not a door (gpio.doors) of this profile (front)")]
    [InlineData("/commands/intents/1/answer/states", null, "door-answer-without-states", "a question about a door says its states")]
    [InlineData("/commands/intents/1/answer/states", null, "states-without-door", "only a question about a door (open) has states")]
    [InlineData("/gpio/doors/1/id", null, "door-id-twice", "id 'climate' is used twice among the sensors and doors")]
    [InlineData("/gpio/doors/1/pin", null, "door-on-button-pin", "is also the push-to-talk pin")]
    [InlineData("/commands/intents/0/reply/en", null, "reading-without-answer", "'{reading}' names no slot of 'volume_set'")]
    [InlineData("/commands/intents/0/confirmPrompt", null, "prompt-without-confirm", "'volume_set' has a confirmation question but is not marked confirm")]
    [InlineData("/commands/intents/0/confirmPrompt/en", null, "prompt-slot", "'{lvl}' names no slot of 'volume_set'")]
    public void A_broken_command_schema_stops_the_profile_naming_the_field_and_the_reason(string field, string? template, string? change, string reason)
    {
        var profile = JsonNode.Parse(File.ReadAllText(Path.Combine(ProfilesDirectory, "dev-x64.json")))!.AsObject();
        profile["gpio"]!["doors"] = JsonNode.Parse("""[ { "id": "front", "pin": 23 } ]""");
        var volume = JsonNode.Parse("""{ "name": "volume_set", "slots": [ { "name": "level", "type": "integer", "min": 0, "max": 100 } ], "templates": { "en": ["volume {level}"] }, "reply": { "en": "Volume {level}." } }""")!.AsObject();
        var mute = JsonNode.Parse("""{ "name": "mute", "slots": [ { "name": "state", "type": "enum", "values": { "on": { "en": ["mute"] } } } ], "templates": { "en": ["{state}"] } }""")!.AsObject();
        if (template is not null && change != "rename")
        {
            volume["templates"]!["en"]![0] = template;
        }

        switch (change)
        {
            case "de": volume["templates"]!["de"] = new JsonArray("lautstärke {level}"); break;
            case "rename": mute["name"] = template; break;
            case "no-max": volume["slots"]![0]!.AsObject().Remove("max"); break;
            case "min-above-max": volume["slots"]![0]!["min"] = 200; break;
            case "reply": volume["reply"]!["en"] = "Volume {volume}."; break;
            case "empty-enum": mute["slots"]![0]!["values"] = new JsonObject(); break;
            case "answer-not-a-sensor": mute["answer"] = new JsonObject { ["reading"] = "temperature", ["sensorSlot"] = "state" }; break;
            case "answer-no-slot": mute["answer"] = new JsonObject { ["reading"] = "temperature", ["sensorSlot"] = "room" }; break;
            case "door-answer-not-a-door": mute["answer"] = JsonNode.Parse("""{ "reading": "open", "sensorSlot": "state", "states": { "open": { "en": "open" }, "closed": { "en": "shut" } } }"""); break;
            case "door-answer-without-states": mute["slots"]![0]!["values"] = JsonNode.Parse("""{ "front": { "en": ["door"] } }"""); mute["answer"] = new JsonObject { ["reading"] = "open", ["sensorSlot"] = "state" }; break;
            case "states-without-door": mute["slots"]![0]!["values"] = JsonNode.Parse("""{ "climate": { "en": ["kitchen"] } }"""); mute["answer"] = JsonNode.Parse("""{ "reading": "temperature", "sensorSlot": "state", "states": { "open": { "en": "open" }, "closed": { "en": "shut" } } }"""); break;
            case "door-id-twice": profile["gpio"]!["doors"]!.AsArray().Add(JsonNode.Parse("""{ "id": "climate", "pin": 24 }""")); break;
            case "door-on-button-pin": profile["gpio"]!["doors"]!.AsArray().Add(JsonNode.Parse($$"""{ "id": "back", "pin": {{profile["gpio"]!["pushToTalkPin"]}} }""")); break;
            case "reading-without-answer": volume["reply"]!["en"] = "It is {reading}."; break;
            case "prompt-without-confirm": volume["confirmPrompt"] = new JsonObject { ["en"] = "Really?" }; break;
            case "prompt-slot": volume["confirm"] = true; volume["confirmPrompt"] = new JsonObject { ["en"] = "Set {lvl}?" }; break;
        }

        profile["transcription"] = JsonNode.Parse("""{ "languages": ["en", "fa"] }""");
        profile["commands"] = new JsonObject { ["intents"] = new JsonArray(volume, mute) };

        var result = DeviceProfileLoader.Parse(profile.ToJsonString(), "maker.json");

        Assert.False(result.Succeeded);
        var problem = Assert.Single(result.Problems, p => p.Field == field);
        Assert.Contains(reason, problem.Reason, StringComparison.Ordinal);
        Assert.Equal("maker.json", problem.File);
    }
}
