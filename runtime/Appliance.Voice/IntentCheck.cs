using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Profiles;

namespace Appliance.Voice;

/// <summary>
/// The last gate before an intent reaches the appliance, whichever stage proposed it: the intent must be in the
/// schema (or be <c>not_understood</c> with no slots), and its slots exactly the intent's, each of its type and within
/// its range or values. Stateless; thread-safe.
/// </summary>
public static class IntentCheck
{
    /// <summary>The longest text slot value taken, in characters.</summary>
    public const int MaxTextChars = 64;

    /// <summary>Why <paramref name="intent"/> with <paramref name="slots"/> may not reach the appliance; null when it may.</summary>
    /// <param name="schema">The device's command schema.</param>
    /// <param name="intent">The proposed intent's name.</param>
    /// <param name="slots">The proposed slot values.</param>
    /// <returns>A reason in words, naming the slot and the limit; null when the intent passes.</returns>
    public static string? Problem(CommandSchema schema, string intent, JsonObject slots)
    {
        ArgumentNullException.ThrowIfNull(schema);
        ArgumentNullException.ThrowIfNull(slots);
        if (intent == CommandSchema.NotUnderstood)
        {
            return slots.Count == 0 ? null : $"{CommandSchema.NotUnderstood} takes no slots";
        }

        if (schema.Find(intent) is not { } spec)
        {
            return $"'{intent}' is not an intent of this device";
        }

        foreach (var (name, _) in slots)
        {
            if (spec.Slot(name) is null)
            {
                return $"'{name}' is not a slot of {spec.Name}";
            }
        }

        foreach (var slot in spec.Slots)
        {
            if (!slots.TryGetPropertyValue(slot.Name, out var value) || value is null)
            {
                return $"slot {slot.Name} is missing";
            }

            if (SlotProblem(slot, value) is { } problem)
            {
                return $"slot {slot.Name}: {problem}";
            }
        }

        return null;
    }

    private static string? SlotProblem(SlotSpec slot, JsonNode value)
    {
        if (value is not JsonValue scalar)
        {
            return "must be a single value";
        }

        switch (slot.Type)
        {
            case SlotSpec.Types.WholeNumber:
                if (scalar.GetValueKind() != JsonValueKind.Number || !scalar.TryGetValue<long>(out var number) && !TryWhole(scalar, out number))
                {
                    return $"{scalar.ToJsonString()} is not a whole number";
                }

                return number < slot.Min ? $"{number} is below the minimum of {slot.Min}"
                    : number > slot.Max ? $"{number} is above the maximum of {slot.Max}"
                    : null;
            case SlotSpec.Types.Choice:
                return scalar.GetValueKind() == JsonValueKind.String && slot.Values!.ContainsKey(scalar.GetValue<string>())
                    ? null
                    : $"{scalar.ToJsonString()} is not one of {string.Join(", ", slot.Values!.Keys)}";
            default:
                if (scalar.GetValueKind() != JsonValueKind.String)
                {
                    return $"{scalar.ToJsonString()} is not text";
                }

                var text = scalar.GetValue<string>();
                var words = text.Split(' ');
                return text.Length is 0 or > MaxTextChars ? $"must be 1 to {MaxTextChars} characters"
                    : words.Length > slot.MaxWords ? $"has {words.Length} words; at most {slot.MaxWords}"
                    : words.Any(w => w.Length == 0 || !w.All(char.IsLetterOrDigit)) ? "may hold only words of letters and digits, one space apart"
                    : null;
        }
    }

    /// <summary>A number stored as a double or decimal (as a model's JSON may give it) that is a whole number.</summary>
    private static bool TryWhole(JsonValue value, out long number)
    {
        number = 0;
        if (!double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d != Math.Floor(d) || Math.Abs(d) > 1e15)
        {
            return false;
        }

        number = (long)d;
        return true;
    }
}
