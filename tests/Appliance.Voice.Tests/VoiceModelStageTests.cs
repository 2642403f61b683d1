using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Profiles;
using Appliance.Voice;
using Json.Schema;

namespace Appliance.Voice.Tests;

/// <summary>The voice model's side: the answer schema guidance decodes against, the constant instructions, and reading its answer.</summary>
public sealed class VoiceModelStageTests
{
    private static readonly CommandSchema Tv = CommandInterpreterTests.For("rk3588-tv").Schema;
    private static readonly JsonSchema Answer = JsonSchema.FromText(VoiceModelStage.BuildAnswerSchema(Tv).GetRawText());

    [Theory]
    [InlineData("""{"intent":"volume_set","slots":{"level":20}}""")]
    [InlineData("""{"intent":"input_source","slots":{"source":"hdmi2"}}""")]
    [InlineData("""{"intent":"playback","slots":{"action":"pause"}}""")]
    [InlineData("""{"intent":"not_understood","slots":{}}""")]
    public void The_answer_schema_admits_every_intent_of_the_device_with_good_slots(string answer)
    {
        Assert.True(Answer.Evaluate(JsonDocument.Parse(answer).RootElement).IsValid, answer);
    }

    [Theory]
    [InlineData("""{"intent":"unlock_door","slots":{}}""")]
    [InlineData("""{"intent":"volume_set","slots":{"level":101}}""")]
    [InlineData("""{"intent":"volume_set","slots":{"level":"20"}}""")]
    [InlineData("""{"intent":"volume_set","slots":{}}""")]
    [InlineData("""{"intent":"volume_set","slots":{"level":20,"door":"open"}}""")]
    [InlineData("""{"intent":"input_source","slots":{"source":"hdmi9"}}""")]
    [InlineData("""{"intent":"not_understood","slots":{"level":1}}""")]
    [InlineData("""{"intent":"mute","slots":{"state":"on"},"also":"unlock"}""")]
    public void The_answer_schema_refuses_what_the_device_cannot_do(string answer)
    {
        Assert.False(Answer.Evaluate(JsonDocument.Parse(answer).RootElement).IsValid, answer);
    }

    [Fact]
    public void The_instructions_list_every_intent_with_its_slots_and_are_the_same_for_every_utterance()
    {
        var instructions = VoiceModelStage.BuildInstructions(Tv);

        Assert.All(Tv.Intents, i => Assert.Contains($"- {i.Name}: {i.Description}", instructions, StringComparison.Ordinal));
        Assert.Contains("level, a whole number from 0 to 100", instructions, StringComparison.Ordinal);
        Assert.Contains("source, one of hdmi1, hdmi2, hdmi3, usb, antenna", instructions, StringComparison.Ordinal);
        Assert.Contains("- not_understood: anything else.", instructions, StringComparison.Ordinal);
        Assert.Equal(instructions, VoiceModelStage.BuildInstructions(Tv));
    }

    [Fact]
    public void The_readings_go_ahead_of_the_utterance_in_the_user_message_and_the_instructions_say_what_they_are()
    {
        var readings = new SensorValue[] { new("cabinet", "temperature", 4.16), new("cabinet", "humidity", 41.6), new("door", "open", 1), new("freezer", "temperature", -18.04) };

        Assert.Equal("make the freezer two degrees colder", VoiceModelStage.UserMessage("make the freezer two degrees colder", []));
        Assert.Equal(
            "Readings now: cabinet temperature 4.2 °C; cabinet humidity 42 %; door open; freezer temperature -18 °C.\nmake the freezer two degrees colder",
            VoiceModelStage.UserMessage("make the freezer two degrees colder", readings));
        Assert.Contains("A message may begin with a line \"Readings now: ...\"", VoiceModelStage.BuildInstructions(Tv), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"intent":"volume_set","slots":{"level":20}}""", "volume_set", """{"level":20}""", null)]
    [InlineData("""{"intent":"mute"}""", "mute", "{}", null)]
    [InlineData("""{"intent":"volume_set","slots":{"lev""", null, "{}", "the voice model's answer is not JSON")]
    [InlineData("""["volume_set"]""", null, "{}", "the voice model's answer names no intent")]
    [InlineData("""{"intent":7}""", null, "{}", "the voice model's answer names no intent")]
    [InlineData("""{"intent":"mute","slots":[1]}""", null, "{}", "the voice model's slots are not an object")]
    public void An_answer_is_read_into_a_proposal_or_the_reason_it_is_unusable(string answer, string? intent, string slots, string? failure)
    {
        var proposal = VoiceModelStage.Parse(answer);

        Assert.Equal((intent, slots), (proposal.Intent, proposal.Slots.ToJsonString()));
        if (failure is null)
        {
            Assert.Null(proposal.Failure);
        }
        else
        {
            Assert.StartsWith(failure, proposal.Failure, StringComparison.Ordinal);
        }
    }
}
