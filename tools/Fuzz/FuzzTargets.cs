using System.Text.Json;
using Appliance.Audio;
using Appliance.Contracts;
using Appliance.Llm;
using Appliance.Llm.ChatTemplates;
using Appliance.Profiles;

namespace Appliance.Fuzz;

/// <summary>
/// What the fuzzer feeds: each target takes one input as the daemon would take it from a client or a file, and lets
/// only the errors the daemon turns into a clear refusal through. Anything else that escapes (an unexpected exception,
/// a crash, a hang) is a finding. Nothing here may run instrumented code before SharpFuzz's loop has started (no
/// static field of an instrumented type): its coverage map does not exist until then.
/// </summary>
internal static class FuzzTargets
{
    /// <summary>Each target's name, the assemblies the fuzzer instruments for it, and the code it runs on one input.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("audio", "WAV, MP3 and Ogg Opus files as asr.transcribe takes them (AudioFile.Read)", ["Appliance.Audio.dll"], Audio),
        new("frames", "meeting audio frames: the first byte picks PCM or Opus and the rest is the frame (the meeting decoders)", ["Appliance.Audio.dll"], Frames),
        new("rpc", "RPC envelopes and every method's parameters as JSON (the contract's parsers)", ["Appliance.Contracts.dll"], Rpc),
        new("profile", "device profile files (DeviceProfileLoader.Parse, with its schema check)", ["Appliance.Profiles.dll"], Profile),
        new("template", "chat messages (role and content, split at NUL bytes) rendered by the R1 chat template as llm.chat renders them", ["Appliance.Llm.dll"], Template),
        new("ota", "OTA repository metadata as a device reads it: the first byte picks the role (root, targets, snapshot, timestamp), the rest is the signed file", ["Appliance.Ota.dll"], OtaMetadata),
    ];

    private static readonly string[] Roles = ["system", "user", "assistant", "tool"];
    private static ModelChatTemplate? s_template;

    private static void Audio(Stream input) => AudioFile.Read(input);

    private static void Frames(Stream input)
    {
        var bytes = ReadAll(input);
        if (bytes.Length == 0)
        {
            return;
        }

        IAudioFrameDecoder decoder = bytes[0] % 2 == 0 ? new PcmFrameDecoder(new PcmFormat(16000, 1, PcmEncoding.S16LE)) : new OpusFrameDecoder(48000, 1 + (bytes[0] / 2 % 2));
        var destination = new float[decoder.GetMaxDecodedLength(Math.Max(1, bytes.Length))];
        var frames = bytes.AsSpan(1);

        // Frames of the input, each led by a length byte; a zero length stands for a lost frame.
        while (frames.Length > 0)
        {
            var length = Math.Min(frames[0], frames.Length - 1);
            var frame = frames.Slice(1, length);
            if (length == 0)
            {
                decoder.ConcealLost(1, frames[1..], destination);
            }
            else
            {
                decoder.TryDecode(frame, destination);
            }

            frames = frames[(1 + length)..];
        }
    }

    private static void Rpc(Stream input)
    {
        var bytes = ReadAll(input);
        try
        {
            ContractJson.Deserialize<RpcEnvelope>(bytes);
        }
        catch (JsonException)
        {
            // Answered invalid_json.
        }

        JsonElement element;
        try
        {
            using var document = JsonDocument.Parse(bytes);
            element = document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return;
        }

        foreach (var method in RpcMethods.All)
        {
            try
            {
                element.Deserialize(ContractJsonContext.Default.GetTypeInfo(method.ParamsType)!);
            }
            catch (JsonException)
            {
                // Answered invalid_params.
            }
        }
    }

    private static void OtaMetadata(Stream input)
    {
        var bytes = ReadAll(input);
        if (bytes.Length == 0)
        {
            return;
        }

        try
        {
            Appliance.Ota.MetadataFuzzing.Read(bytes[0], bytes.AsSpan(1));
        }
        catch (Appliance.Ota.OtaRefusedException)
        {
            // Refused with its reason (malformed, signature), the trusted metadata untouched.
        }
    }

    private static void Profile(Stream input) => DeviceProfileLoader.Parse(new StreamReader(input).ReadToEnd(), "fuzzed.json");

    private static void Template(Stream input)
    {
        // Made on the first input, inside the loop: its parser is instrumented code.
        s_template ??= R1Template();
        var parts = System.Text.Encoding.UTF8.GetString(ReadAll(input)).Split('\0');
        var messages = parts.Select(p => new LlmMessage(p.Length > 0 ? Roles[p[0] % Roles.Length] : "user", p.Length > 0 ? p[1..] : p)).ToList();
        try
        {
            s_template.Render(messages);
        }
        catch (TemplateRenderException)
        {
            // Answered invalid_request, naming the message.
        }
    }

    private static ModelChatTemplate R1Template()
    {
        var folder = Directory.CreateTempSubdirectory("appliance-fuzz-template-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, ModelChatTemplate.TemplateFileName), Appliance.ModelForge.Llm.R1Tokenizer.ChatTemplate);
            return ModelChatTemplate.TryRead(folder, out var template, out var reason) && template is not null
                ? template
                : throw new InvalidOperationException($"the R1 chat template did not load: {reason}");
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static byte[] ReadAll(Stream input)
    {
        using var memory = new MemoryStream();
        input.CopyTo(memory);
        return memory.ToArray();
    }
}

/// <summary>One fuzz target.</summary>
/// <param name="Name">Its name on the command line and its seed folder under <c>corpus/</c>.</param>
/// <param name="Description">What it feeds, in words.</param>
/// <param name="Instrument">The assemblies (in the build output) whose branches the fuzzer follows.</param>
/// <param name="Run">The code run on one input.</param>
internal sealed record FuzzTarget(string Name, string Description, IReadOnlyList<string> Instrument, Action<Stream> Run);
