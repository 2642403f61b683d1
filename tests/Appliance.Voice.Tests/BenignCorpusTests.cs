using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Profiles;
using Xunit.Abstractions;

namespace Appliance.Voice.Tests;

/// <summary>
/// The benign corpus (<c>corpus/benign.jsonl</c>): commands people give a TV or a fridge, written the ways they say
/// them, each with the intent and slots it must give. The template path is deterministic, so its accuracy here is its
/// real accuracy (exact intent and slots), whatever the models. The table is printed; the floors are the product's:
/// 95 % in English, 90 % in Persian, Arabic and Chinese.
/// </summary>
public sealed class BenignCorpusTests(ITestOutputHelper output)
{
    private sealed record Command(string Profile, string Language, string Text, string Intent, JsonObject Slots);

    [Fact]
    public void The_template_path_gives_the_right_intent_and_slots_for_the_benign_corpus_in_every_language()
    {
        var commands = File.ReadLines(Path.Combine(AppContext.BaseDirectory, "corpus", "benign.jsonl"))
            .Where(line => line.Length > 0)
            .Select(line => JsonSerializer.Deserialize<Command>(line, JsonSerializerOptions.Web)!)
            .ToList();
        var interpreters = commands.Select(c => c.Profile).Distinct().ToDictionary(p => p, CommandInterpreterTests.For);
        var table = new StringBuilder("| language | commands | right | accuracy | floor |\n| --- | ---: | ---: | ---: | ---: |\n");
        var misses = new StringBuilder();
        var below = new List<string>();
        foreach (var language in new[] { "en", "fa", "ar", "zh" })
        {
            var ofLanguage = commands.Where(c => c.Language == language).ToList();
            var right = 0;
            foreach (var command in ofLanguage)
            {
                var result = interpreters[command.Profile].Interpret("corpus", command.Text, language);
                if (result.Intent == command.Intent && JsonNode.DeepEquals(result.Slots, command.Slots))
                {
                    right++;
                }
                else
                {
                    misses.AppendLine(CultureInfo.InvariantCulture, $"{language} {command.Text}: {result.Intent} {result.Slots.ToJsonString()} ({result.Reason}), want {command.Intent} {command.Slots.ToJsonString()}");
                }
            }

            var accuracy = (double)right / ofLanguage.Count;
            var floor = language == "en" ? 0.95 : 0.90;
            table.AppendLine(CultureInfo.InvariantCulture, $"| {language} | {ofLanguage.Count} | {right} | {accuracy:P1} | {floor:P0} |");
            if (accuracy < floor || ofLanguage.Count < (language == "en" ? 200 : 50))
            {
                below.Add(language);
            }
        }

        output.WriteLine(table.ToString());
        output.WriteLine(misses.ToString());
        Assert.True(below.Count == 0, $"below the floor or too few commands: {string.Join(", ", below)}\n{table}\n{misses}");
    }
}
