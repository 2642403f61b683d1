namespace Appliance.ModelForge.Llm;

/// <summary>
/// Broken copies of a forged model folder, for the bad-input checks of whatever loads models: a graph cut short,
/// and a <c>genai_config.json</c> that names an input the graph does not have.
/// </summary>
public static class DamagedCopies
{
    /// <summary>The name the damaged config gives the attention-mask input.</summary>
    public const string MissingInputName = "attn_mask_missing";

    /// <summary>Copies <paramref name="forged"/> to <paramref name="destination"/> with <c>model.onnx</c> cut to 4000 bytes.</summary>
    public static string TruncatedGraph(string forged, string destination)
    {
        Copy(forged, destination);
        var graph = Path.Combine(destination, LlmForge.ModelFileName);
        File.WriteAllBytes(graph, File.ReadAllBytes(graph)[..4000]);
        return destination;
    }

    /// <summary>Copies <paramref name="forged"/> to <paramref name="destination"/> with the config naming <see cref="MissingInputName"/>.</summary>
    public static string ConfigNamingMissingInput(string forged, string destination)
    {
        Copy(forged, destination);
        var config = Path.Combine(destination, "genai_config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"attention_mask\": \"attention_mask\"", $"\"attention_mask\": \"{MissingInputName}\"", StringComparison.Ordinal));
        return destination;
    }

    private static void Copy(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
