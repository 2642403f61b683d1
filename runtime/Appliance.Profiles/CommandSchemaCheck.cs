using System.Text.RegularExpressions;

namespace Appliance.Profiles;

/// <summary>
/// The rules of a <see cref="CommandSchema"/> that the JSON schema cannot express: unique names, slot types with
/// their bounds, templates that parse and name exactly the intent's slots once each, replies that name known slots,
/// and languages the device transcribes. Stateless; thread-safe.
/// </summary>
internal static partial class CommandSchemaCheck
{
    /// <summary>Every problem of <paramref name="schema"/>, each at its JSON pointer under <c>/commands</c>.</summary>
    /// <param name="schema">The parsed schema.</param>
    /// <param name="languages">The profile's transcription languages; null allows any.</param>
    /// <param name="sensors">The profile's sensors, which questions may read.</param>
    /// <param name="doors">The profile's door contacts, which questions about a door may read.</param>
    /// <param name="file">The profile file, for the problems.</param>
    public static IEnumerable<ProfileProblem> Problems(CommandSchema schema, IReadOnlyList<string>? languages, IReadOnlyList<SensorSpec> sensors, IReadOnlyList<DoorContactSpec> doors, string file)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < schema.Intents.Count; i++)
        {
            var intent = schema.Intents[i];
            var at = $"/commands/intents/{i}";
            if (intent.Name == CommandSchema.NotUnderstood)
            {
                yield return new(file, $"{at}/name", $"'{CommandSchema.NotUnderstood}' is built in and may not be declared");
            }
            else if (!names.Add(intent.Name))
            {
                yield return new(file, $"{at}/name", $"intent '{intent.Name}' is declared twice");
            }

            foreach (var problem in SlotProblems(intent, at, languages, file))
            {
                yield return problem;
            }

            foreach (var (language, templates) in intent.Templates)
            {
                if (languages is not null && !languages.Contains(language, StringComparer.Ordinal))
                {
                    yield return new(file, $"{at}/templates/{language}", $"'{language}' is not one of the profile's languages ({string.Join(", ", languages)})");
                }

                for (var t = 0; t < templates.Count; t++)
                {
                    if (TemplateProblem(intent, templates[t]) is { } reason)
                    {
                        yield return new(file, $"{at}/templates/{language}/{t}", reason);
                    }
                }
            }

            foreach (var problem in AnswerProblems(intent, at, sensors, doors, file))
            {
                yield return problem;
            }

            foreach (var (field, texts) in new[] { ("reply", intent.Reply), ("confirmPrompt", intent.ConfirmPrompt), ("answer/noReadingReply", intent.Answer?.NoReadingReply ?? new Dictionary<string, string>()) })
            {
                foreach (var (language, text) in texts)
                {
                    foreach (Match placeholder in Placeholder().Matches(text))
                    {
                        var name = placeholder.Groups[1].Value;
                        if (intent.Slot(name) is null && !(field == "reply" && intent.Answer is not null && name == IntentAnswer.Placeholder))
                        {
                            yield return new(file, $"{at}/{field}/{language}", $"'{placeholder.Value}' names no slot of '{intent.Name}'");
                        }
                    }
                }
            }

            if (intent.ConfirmPrompt.Count > 0 && !intent.Confirm)
            {
                yield return new(file, $"{at}/confirmPrompt", $"'{intent.Name}' has a confirmation question but is not marked confirm");
            }
        }
    }

    private static IEnumerable<ProfileProblem> AnswerProblems(IntentSpec intent, string at, IReadOnlyList<SensorSpec> sensors, IReadOnlyList<DoorContactSpec> doors, string file)
    {
        if (intent.Answer is not { } answer)
        {
            yield break;
        }

        if (!IntentAnswer.Readings.Contains(answer.Reading, StringComparer.Ordinal))
        {
            yield return new(file, $"{at}/answer/reading", $"'{answer.Reading}' is not a reading: use {string.Join(" or ", IntentAnswer.Readings)}");
        }

        if (intent.Confirm)
        {
            yield return new(file, $"{at}/confirm", "a question is answered, not confirmed");
        }

        var aboutDoors = answer.Reading == IntentAnswer.DoorOpen;
        if (aboutDoors != (answer.States is not null))
        {
            yield return new(file, $"{at}/answer/states", aboutDoors ? "a question about a door says its states: give states.open and states.closed" : $"only a question about a door ({IntentAnswer.DoorOpen}) has states");
        }

        if (intent.Slot(answer.SensorSlot) is not { Type: SlotSpec.Types.Choice, Values: { } values })
        {
            yield return new(file, $"{at}/answer/sensorSlot", $"'{answer.SensorSlot}' is not an enum slot of '{intent.Name}'");
            yield break;
        }

        var (ids, kind) = aboutDoors ? (doors.Select(d => d.Id).ToList(), "door (gpio.doors)") : (sensors.Select(s => s.Id).ToList(), "sensor");
        foreach (var id in values.Keys.Where(v => !ids.Contains(v, StringComparer.Ordinal)))
        {
            yield return new(file, $"{at}/answer/sensorSlot", $"value '{id}' of slot '{answer.SensorSlot}' is not a {kind} of this profile ({(ids.Count == 0 ? "it has none" : string.Join(", ", ids))})");
        }
    }

    private static IEnumerable<ProfileProblem> SlotProblems(IntentSpec intent, string at, IReadOnlyList<string>? languages, string file)
    {
        var slotNames = new HashSet<string>(StringComparer.Ordinal);
        for (var s = 0; s < intent.Slots.Count; s++)
        {
            var slot = intent.Slots[s];
            var slotAt = $"{at}/slots/{s}";
            if (!slotNames.Add(slot.Name))
            {
                yield return new(file, $"{slotAt}/name", $"slot '{slot.Name}' is declared twice in '{intent.Name}'");
            }

            switch (slot.Type)
            {
                case SlotSpec.Types.WholeNumber when slot.Min is null || slot.Max is null:
                    yield return new(file, slotAt, "an integer slot needs both min and max");
                    break;
                case SlotSpec.Types.WholeNumber when slot.Min > slot.Max:
                    yield return new(file, $"{slotAt}/min", $"min {slot.Min} is above max {slot.Max}");
                    break;
                case SlotSpec.Types.Choice when slot.Values is not { Count: > 0 }:
                    yield return new(file, slotAt, "an enum slot needs values");
                    break;
                case SlotSpec.Types.Choice:
                    foreach (var (value, phrases) in slot.Values)
                    {
                        foreach (var language in phrases.Keys.Where(l => languages is not null && !languages.Contains(l, StringComparer.Ordinal)))
                        {
                            yield return new(file, $"{slotAt}/values/{value}/{language}", $"'{language}' is not one of the profile's languages ({string.Join(", ", languages!)})");
                        }
                    }

                    break;
            }
        }
    }

    private static string? TemplateProblem(IntentSpec intent, string text)
    {
        if (!SentenceTemplate.TryParse(text, out var template, out var error))
        {
            return error;
        }

        if (template!.NamedSlots().FirstOrDefault(name => intent.Slot(name) is null) is { } unknown)
        {
            return $"{{{unknown}}} names no slot of '{intent.Name}'";
        }

        var required = template.RequiredSlots();
        if (intent.Slots.FirstOrDefault(slot => !required.Contains(slot.Name)) is { } missing)
        {
            return $"slot {{{missing.Name}}} must be said in every way the template can be spoken";
        }

        return intent.Slots.FirstOrDefault(slot => template.MostOccurrences(slot.Name) > 1) is { } twice
            ? $"slot {{{twice.Name}}} can be said twice"
            : null;
    }

    [GeneratedRegex(@"\{([a-z0-9_]+)\}")]
    private static partial Regex Placeholder();
}
