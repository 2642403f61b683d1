using System.Text.Json.Serialization;

namespace Appliance.Profiles;

/// <summary>
/// One board's description, read from a JSON file in <c>device-profiles/</c> and validated against
/// <c>device-profile.schema.json</c> by <see cref="DeviceProfileLoader"/>. Immutable once loaded.
/// </summary>
public sealed record DeviceProfile
{
    /// <summary>The profile name (lower case, digits and hyphens); <c>--profile NAME</c> finds <c>device-profiles/NAME.json</c>.</summary>
    public required string Name { get; init; }
    /// <summary>Free text about the board, for people; null when absent.</summary>
    public string? Description { get; init; }
    /// <summary>The default MQTT device id; the <c>Device:Id</c> setting overrides it, and the host name is used when both are absent.</summary>
    public string? DeviceId { get; init; }
    /// <summary>The board's system-on-chip.</summary>
    public required SocInfo Soc { get; init; }
    /// <summary>Resident memory the runtime may use, models included, in MiB (64 to 65536); health turns degraded above it.</summary>
    public required int MemoryBudgetMb { get; init; }
    /// <summary>ONNX Runtime execution providers in order of preference, at least one; the first one the installed runtime offers is used.</summary>
    public required IReadOnlyList<ExecutionProviderSpec> ExecutionProviders { get; init; }
    /// <summary>Inference thread counts.</summary>
    public required ThreadSettings Threads { get; init; }
    /// <summary>The model of each feature.</summary>
    public required ModelSet Models { get; init; }
    /// <summary>The microphone input.</summary>
    public required AudioInput Audio { get; init; }
    /// <summary>The GPIO chip and the pins of the push-to-talk button and the status LED.</summary>
    public required GpioSettings Gpio { get; init; }
    /// <summary>The climate sensors on the board's I2C buses; empty when there are none.</summary>
    public required IReadOnlyList<SensorSpec> Sensors { get; init; }
    /// <summary>The languages speech is transcribed in and Whisper's hallucination guards; the reference defaults when absent.</summary>
    public TranscriptionSettings Transcription { get; init; } = new();
    /// <summary>How meetings behave on this device; the defaults when absent.</summary>
    public MeetingSettings Meetings { get; init; } = new();
    /// <summary>The voice commands this device accepts; null when it takes none (voice commands are then refused).</summary>
    public CommandSchema? Commands { get; init; }

    /// <summary>The file the profile was read from (absolute path).</summary>
    [JsonIgnore]
    public string SourcePath { get; init; } = "";
}

/// <summary>The board's system-on-chip, as the profile's <c>soc</c> object describes it.</summary>
public sealed record SocInfo
{
    /// <summary>The SoC maker, for example <c>Rockchip</c>.</summary>
    public required string Vendor { get; init; }
    /// <summary>The SoC model, for example <c>RK3588</c>.</summary>
    public required string Model { get; init; }
    /// <summary>The CPU architecture: <c>arm64</c> or <c>x64</c>.</summary>
    public required string Architecture { get; init; }
    /// <summary>CPU cores (1 to 64); <see cref="ThreadSettings.IntraOp"/> may not exceed it.</summary>
    public required int CpuCores { get; init; }
    /// <summary>The NPU or GPU on the SoC, in words; null when the profile names none.</summary>
    public string? Accelerator { get; init; }
    /// <summary>Total RAM of the board in MiB (at least 256), shared with the appliance's own software; null when not stated.</summary>
    public int? RamMb { get; init; }
}

/// <summary>An ONNX Runtime execution provider by its runtime name (for example <c>QNNExecutionProvider</c>) with its provider options.</summary>
public sealed record ExecutionProviderSpec
{
    /// <summary>The provider's ONNX Runtime name, ending in <c>ExecutionProvider</c>.</summary>
    public required string Name { get; init; }
    /// <summary>Provider options passed to ONNX Runtime as given; empty when the profile sets none.</summary>
    public IReadOnlyDictionary<string, string> Options { get; init; } = new Dictionary<string, string>();
}

/// <summary>ONNX Runtime inference thread counts, as the profile's <c>threads</c> object gives them.</summary>
public sealed record ThreadSettings
{
    /// <summary>Threads one operator may use (1 to 64, at most <see cref="SocInfo.CpuCores"/>).</summary>
    public required int IntraOp { get; init; }
    /// <summary>Threads that run independent operators in parallel (1 to 64).</summary>
    public required int InterOp { get; init; }
}

/// <summary>The model of each feature; a feature without a model is null.</summary>
public sealed record ModelSet
{
    /// <summary>The language model that answers voice requests.</summary>
    public ModelSpec? VoiceLlm { get; init; }
    /// <summary>The language model that summarizes meetings.</summary>
    public ModelSpec? SummaryLlm { get; init; }
    /// <summary>The speech recognition model.</summary>
    public ModelSpec? Asr { get; init; }
    /// <summary>The voice activity detection model.</summary>
    public ModelSpec? Vad { get; init; }
    /// <summary>The wake-word detection model.</summary>
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

/// <summary>
/// How this device transcribes speech: the languages it accepts, and the guards against text Whisper invents on silence,
/// noise and fragments, with the defaults of the reference decoder (OpenAI's <c>whisper.transcribe</c>: no-speech
/// threshold 0.6, log-probability threshold −1.0, compression-ratio threshold 2.4, temperatures 0.0 to 1.0 in steps
/// of 0.2 with best of 5 samples). A null threshold turns its guard off.
/// </summary>
public sealed record TranscriptionSettings
{
    /// <summary>
    /// The languages this device transcribes (Whisper codes such as <c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>):
    /// detection picks the most likely of them, and a request for another language is refused. Null allows every
    /// language the model knows.
    /// </summary>
    public IReadOnlyList<string>? Languages { get; init; }
    /// <summary>One language to transcribe in always, without detection; null detects (within <see cref="Languages"/>).</summary>
    public string? Language { get; init; }
    /// <summary>A window whose no-speech probability is above this, with an average log-probability below <see cref="LogProbThreshold"/>, yields no text.</summary>
    public double? NoSpeechThreshold { get; init; } = 0.6;
    /// <summary>An average log-probability per token below this retries the window at the next temperature.</summary>
    public double? LogProbThreshold { get; init; } = -1.0;
    /// <summary>A text whose length over its zlib-compressed length is above this (repetitive) retries the window at the next temperature.</summary>
    public double? CompressionRatioThreshold { get; init; } = 2.4;
    /// <summary>The temperatures tried in order while a guard asks for a retry; 0 decodes greedily (or with beam search).</summary>
    public IReadOnlyList<double> Temperatures { get; init; } = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];
    /// <summary>Samples drawn at a temperature above 0; the one with the highest average log-probability is kept.</summary>
    public int BestOf { get; init; } = 5;
    /// <summary>
    /// An n-gram of 1 to 16 tokens repeated this many times in a row (and over at least 8 tokens) is a loop: decoding
    /// stops, the window is retried at the next temperature, and if every temperature loops the text keeps the
    /// n-gram once. 0 turns the detector off.
    /// </summary>
    public int RepetitionLimit { get; init; } = 4;
    /// <summary>Give each window the previous window's text as a prompt (Whisper's <c>condition_on_previous_text</c>); off by default.</summary>
    public bool ConditionOnPreviousText { get; init; }

    /// <summary>
    /// No guards: one greedy (or beam) decode per window, its text kept whatever it is. The model's bare output, for
    /// parity checks against other implementations and for benchmarks that time the decoder itself.
    /// </summary>
    public static TranscriptionSettings Unguarded { get; } = new()
    {
        NoSpeechThreshold = null,
        LogProbThreshold = null,
        CompressionRatioThreshold = null,
        Temperatures = [0.0],
        RepetitionLimit = 0,
    };
}

/// <summary>How meetings behave on a device.</summary>
public sealed record MeetingSettings
{
    /// <summary>
    /// Minutes after which an open meeting whose earbuds have sent nothing (they never came back) is stopped, and
    /// summarised from what arrived; null never closes one.
    /// </summary>
    public int? IdleCloseMinutes { get; init; } = 30;

    /// <summary>
    /// How many meetings this device records at once (streams taking audio); a start beyond it is answered
    /// <c>busy</c>, so that one more stream never takes audio from all the others. The default, 192, is what the
    /// meetings benchmark measured lossless on a 2-core x64 machine (docs/benchmarks.md, 256 lost 73 %); measure a
    /// board's own figure with <c>appliance-bench meetings</c> and set it here.
    /// </summary>
    public int Capacity { get; init; } = DefaultCapacity;

    /// <summary>The default <see cref="Capacity"/>: the ingest benchmark's lossless figure on the development machine.</summary>
    public const int DefaultCapacity = 192;
}

/// <summary>One model file or folder a feature loads.</summary>
public sealed record ModelSpec
{
    /// <summary>The model's identifier, as reported in status and replies (letters, digits, <c>.</c>, <c>_</c>, <c>-</c>).</summary>
    public required string Id { get; init; }
    /// <summary>The model file or folder, relative to the <c>Models:Root</c> setting unless absolute.</summary>
    public required string Path { get; init; }
    /// <summary>Context cap in tokens (prompt + output) for language models, 128 to 131072; null keeps the model's own context length, which also caps this value.</summary>
    public int? ContextTokens { get; init; }
    /// <summary>Default cap on reasoning tokens before the answer is forced (0 to 32768); a request's own budget overrides it, and null means no cap.</summary>
    public int? ThinkingBudgetTokens { get; init; }
}

/// <summary>The microphone input, as the profile's <c>audio</c> object describes it.</summary>
public sealed record AudioInput
{
    /// <summary>Samples per second per channel, in Hz: 8000, 16000, 22050, 24000, 32000, 44100 or 48000.</summary>
    public required int SampleRate { get; init; }
    /// <summary>Interleaved channels, 1 to 8.</summary>
    public required int Channels { get; init; }
    /// <summary>Sample encoding of the input: <c>s16le</c>, <c>f32le</c> or <c>opus</c>.</summary>
    public required string Format { get; init; }
    /// <summary>The ALSA capture device name, for example <c>plughw:1,0</c>; null, empty or <c>simulated</c> selects the simulated microphone.</summary>
    public string? Device { get; init; }
}

/// <summary>The GPIO chip and pins, as the profile's <c>gpio</c> object describes them.</summary>
public sealed record GpioSettings
{
    /// <summary>The GPIO driver: <c>simulated</c>, <c>libgpiod</c> or <c>sysfs</c>.</summary>
    public required string Driver { get; init; }
    /// <summary>The GPIO chip number (0 to 16) the <c>libgpiod</c> driver opens; 0 when absent.</summary>
    public int Chip { get; init; }
    /// <summary>The GPIO pin number (0 to 511) of the push-to-talk button input; differs from <see cref="StatusLedPin"/>.</summary>
    public required int PushToTalkPin { get; init; }
    /// <summary>The GPIO pin number (0 to 511) of the status LED output.</summary>
    public required int StatusLedPin { get; init; }
    /// <summary>Whether the button pulls its pin low when pressed (pull-up input); true when absent.</summary>
    public bool ButtonActiveLow { get; init; } = true;
    /// <summary>How long a switch's level (the button's, a door contact's) must hold before a change counts, in milliseconds (0 to 1000); 30 when absent.</summary>
    public int DebounceMs { get; init; } = 30;
    /// <summary>The appliance's door contacts on this chip, which questions about the doors are answered from; empty when there are none.</summary>
    public IReadOnlyList<DoorContactSpec> Doors { get; init; } = [];

    /// <summary>Whether <see cref="Driver"/> selects the software GPIO chip instead of the board's.</summary>
    [JsonIgnore]
    public bool IsSimulated => Driver == "simulated";
}

/// <summary>
/// A door's contact on a GPIO input, as an entry of the profile's <c>gpio.doors</c> array describes it: a switch that
/// is closed while the door is shut (a reed switch held by the door's magnet), debounced like the button.
/// </summary>
public sealed record DoorContactSpec
{
    /// <summary>The door's name, unique among the profile's sensors and doors (lower case, digits and hyphens); telemetry and questions carry it.</summary>
    public required string Id { get; init; }
    /// <summary>The GPIO pin number (0 to 511) of the contact; no other pin of the profile uses it.</summary>
    public required int Pin { get; init; }
    /// <summary>Whether the closed contact pulls its pin low (pull-up input); true when absent.</summary>
    public bool ActiveLow { get; init; } = true;
}

/// <summary>One climate sensor on an I2C bus, as an entry of the profile's <c>sensors</c> array describes it.</summary>
public sealed record SensorSpec
{
    /// <summary>The sensor's name, unique in the profile (lower case, digits and hyphens); readings and health checks carry it.</summary>
    public required string Id { get; init; }
    /// <summary>The chip: <c>sht3x</c> or <c>bme280</c>.</summary>
    public required string Type { get; init; }
    /// <summary>The bus kind; always <c>i2c</c>.</summary>
    public required string Bus { get; init; }
    /// <summary>The I2C bus number (0 to 16), as in <c>/dev/i2c-N</c>.</summary>
    public required int BusId { get; init; }
    /// <summary>The 7-bit I2C address as hexadecimal text, for example <c>0x44</c>; unique on its bus.</summary>
    public required string Address { get; init; }
    /// <summary>Seconds between polls (1 to 3600); 10 when absent.</summary>
    public int IntervalSeconds { get; init; } = 10;
    /// <summary>Whether to use the chip's simulator on a simulated I2C bus instead of the board's bus; only <c>sht3x</c> has one.</summary>
    public bool Simulated { get; init; }

    /// <summary>The 7-bit I2C address parsed from <see cref="Address"/> (validated at load).</summary>
    [JsonIgnore]
    public int AddressValue => Convert.ToInt32(Address, 16);
}
