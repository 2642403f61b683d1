using Appliance.Profiles;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Inference;

/// <summary>The execution provider taken from a profile's chain, with the ones passed over and why.</summary>
/// <param name="Chosen">The provider to create sessions with, with its options from the profile.</param>
/// <param name="Skipped">Providers of the chain passed over, in chain order, with the reason.</param>
/// <param name="IsFallback">True when no provider of the chain was offered and the CPU provider was taken instead.</param>
public sealed record ExecutionProviderChoice(ExecutionProviderSpec Chosen, IReadOnlyList<(string Name, string Reason)> Skipped, bool IsFallback = false);

/// <summary>
/// Walks a profile's execution-provider chain in order and takes the first provider the installed ONNX
/// Runtime offers. The CPU provider is always offered, so when the chain names nothing available the
/// choice falls back to it, and says so.
/// </summary>
public static class ExecutionProviderSelector
{
    public const string Cpu = "CPUExecutionProvider";

    /// <summary>The providers compiled into the ONNX Runtime this process loaded.</summary>
    public static IReadOnlyList<string> InstalledProviders() => OrtEnv.Instance().GetAvailableProviders();

    public static ExecutionProviderChoice Choose(IReadOnlyList<ExecutionProviderSpec> chain, IReadOnlyCollection<string> installed)
    {
        var skipped = new List<(string, string)>();
        foreach (var provider in chain)
        {
            if (installed.Contains(provider.Name))
            {
                return new ExecutionProviderChoice(provider, skipped);
            }

            skipped.Add((provider.Name, "not offered by the installed ONNX Runtime"));
        }

        return new ExecutionProviderChoice(new ExecutionProviderSpec { Name = Cpu }, skipped, IsFallback: true);
    }
}
