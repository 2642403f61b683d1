using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.ModelForge.Tests;

/// <summary>Greedy generation through ONNX Runtime GenAI, the reference the other runtimes are compared with.</summary>
internal static class GenAiGreedy
{
    public static (int[] PromptIds, int[] GeneratedIds) Generate(string modelDirectory, string prompt, int maxNewTokens)
    {
        using var model = new Model(modelDirectory);
        using var tokenizer = new Tokenizer(model);
        using var sequences = tokenizer.Encode(prompt);
        var promptIds = sequences[0].ToArray();
        using var generatorParams = new GeneratorParams(model);
        generatorParams.SetSearchOption("do_sample", false);
        generatorParams.SetSearchOption("max_length", promptIds.Length + maxNewTokens);
        using var generator = new Generator(model, generatorParams);
        generator.AppendTokenSequences(sequences);
        var generated = new List<int>();
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
            generated.Add(generator.GetNextTokens()[0]);
        }

        return (promptIds, [.. generated]);
    }
}
