using Appliance.Profiles;

namespace Appliance.Inference;

/// <summary>The execution provider taken from a profile's chain, with the ones passed over and why.</summary>
/// <param name="Chosen">The provider to create sessions with, with its options from the profile.</param>
/// <param name="Skipped">Providers of the chain passed over, in chain order, as (ONNX Runtime name, reason).</param>
/// <param name="IsFallback">True when no provider of the chain was offered and the CPU provider was taken instead.</param>
public sealed record ExecutionProviderChoice(ExecutionProviderSpec Chosen, IReadOnlyList<(string Name, string Reason)> Skipped, bool IsFallback = false);

/// <summary>
/// Walks a profile's execution-provider chain in order and takes the first provider the installed ONNX Runtime offers.
/// The CPU provider is always offered, so when the chain names nothing available the choice falls back to it, and says
/// so. Pure functions apart from <see cref="InstalledProviders"/>; thread-safe.
/// </summary>
public static class ExecutionProviderSelector
{
    /// <summary>The ONNX Runtime name of the CPU provider, which every build offers.</summary>
    public const string Cpu = "CPUExecutionProvider";

    /// <summary>The providers compiled into the ONNX Runtime this process loads (<see cref="OnnxRuntimeEnvironment.AvailableProviders"/>: no environment is made).</summary>
    public static IReadOnlyList<string> InstalledProviders() => OnnxRuntimeEnvironment.AvailableProviders();

    /// <summary>The first provider of <paramref name="chain"/> that <paramref name="installed"/> offers, or the CPU provider.</summary>
    /// <param name="chain">The profile's providers in order of preference; empty means CPU.</param>
    /// <param name="installed">The providers the runtime offers (<see cref="InstalledProviders"/>).</param>
    /// <returns>The choice with the providers passed over.</returns>
    public static ExecutionProviderChoice Choose(IReadOnlyList<ExecutionProviderSpec> chain, IReadOnlyCollection<string> installed)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(installed);
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

    /// <summary>
    /// The providers to try when creating a session, in order: every provider of <paramref name="chain"/> that
    /// <paramref name="installed"/> offers, then the CPU provider (once). A session that cannot be created with one
    /// (a driver missing at run time, an operator the provider lacks) is tried with the next.
    /// </summary>
    /// <param name="chain">The profile's providers in order of preference.</param>
    /// <param name="installed">The providers the runtime offers.</param>
    /// <returns>At least the CPU provider.</returns>
    public static IReadOnlyList<ExecutionProviderSpec> Candidates(IReadOnlyList<ExecutionProviderSpec> chain, IReadOnlyCollection<string> installed)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(installed);
        var candidates = chain.Where(p => installed.Contains(p.Name)).ToList();
        if (!candidates.Any(p => p.Name == Cpu))
        {
            candidates.Add(new ExecutionProviderSpec { Name = Cpu });
        }

        return candidates;
    }
}
