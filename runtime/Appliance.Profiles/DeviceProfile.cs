using System.Text.Json.Serialization;

namespace Appliance.Profiles;

/// <summary>
/// One board's description, read from a JSON file in <c>device-profiles/</c> and validated against
/// <c>device-profile.schema.json</c> by <see cref="DeviceProfileLoader"/>. Immutable once loaded.
/// </summary>
public sealed record DeviceProfile
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public string? DeviceId { get; init; }
    public required SocInfo Soc { get; init; }
    public required int MemoryBudgetMb { get; init; }
    public required IReadOnlyList<ExecutionProviderSpec> ExecutionProviders { get; init; }
    public required ThreadSettings Threads { get; init; }
    public required ModelSet Models { get; init; }
    public required AudioInput Audio { get; init; }
    public required GpioSettings Gpio { get; init; }
    public required IReadOnlyList<SensorSpec> Sensors { get; init; }

    /// <summary>The file the profile was read from (absolute path).</summary>
    [JsonIgnore]
    public string SourcePath { get; init; } = "";
}

public sealed record SocInfo
{
    public required string Vendor { get; init; }
    public required string Model { get; init; }
    public required string Architecture { get; init; }
    public required int CpuCores { get; init; }
    public string? Accelerator { get; init; }
    public int? RamMb { get; init; }
}

/// <summary>An ONNX Runtime execution provider by its runtime name (for example <c>QNNExecutionProvider</c>) with its provider options.</summary>
public sealed record ExecutionProviderSpec
{
    public required string Name { get; init; }
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}

public sealed record ThreadSettings
{
    public required int IntraOp { get; init; }
    public required int InterOp { get; init; }
}

public sealed record ModelSet
{
    public ModelSpec? VoiceLlm { get; init; }
    public ModelSpec? SummaryLlm { get; init; }
    public ModelSpec? Asr { get; init; }
    public ModelSpec? Vad { get; init; }
    public ModelSpec? WakeWord { get; init; }

    /// <summary>The declared models with their feature names, in a stable order.</summary>
    public IEnumerable<(string Feature, ModelSpec Model)> Declared()
    {
        if (VoiceLlm is not null) yield return ("voiceLlm", VoiceLlm);
        if (SummaryLlm is not null) yield return ("summaryLlm", SummaryLlm);
        if (Asr is not null) yield return ("asr", Asr);
        if (Vad is not null) yield return ("vad", Vad);
        if (WakeWord is not null) yield return ("wakeWord", WakeWord);
    }
}

public sealed record ModelSpec
{
    public required string Id { get; init; }
    public required string Path { get; init; }
    public int? ContextTokens { get; init; }
    public int? ThinkingBudgetTokens { get; init; }
}

public sealed record AudioInput
{
    public required int SampleRate { get; init; }
    public required int Channels { get; init; }
    public required string Format { get; init; }
    public string? Device { get; init; }
}

public sealed record GpioSettings
{
    public required string Driver { get; init; }
    public int Chip { get; init; }
    public required int PushToTalkPin { get; init; }
    public required int StatusLedPin { get; init; }
    public bool ButtonActiveLow { get; init; } = true;
    public int DebounceMs { get; init; } = 30;

    [JsonIgnore]
    public bool IsSimulated => Driver == "simulated";
}

public sealed record SensorSpec
{
    public required string Id { get; init; }
    public required string Type { get; init; }
    public required string Bus { get; init; }
    public required int BusId { get; init; }
    public required string Address { get; init; }
    public int IntervalSeconds { get; init; } = 10;
    public bool Simulated { get; init; }

    /// <summary>The 7-bit I2C address parsed from <see cref="Address"/> (validated at load).</summary>
    [JsonIgnore]
    public int AddressValue => Convert.ToInt32(Address, 16);
}
