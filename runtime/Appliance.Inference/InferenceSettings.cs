using Appliance.Profiles;

namespace Appliance.Inference;

/// <summary>
/// How ONNX Runtime sessions are created on this board: the profile's execution-provider chain, the threads each
/// session may use, and whether idle threads spin. Immutable; the same settings serve plain ONNX Runtime sessions
/// (<see cref="InferenceSessions"/>) and the ONNX Runtime GenAI model loader.
/// </summary>
public sealed record InferenceSettings
{
    /// <summary>The execution-provider chain in order of preference; empty means CPU.</summary>
    public IReadOnlyList<ExecutionProviderSpec> ExecutionProviders { get; init; } = [];

    /// <summary>Intra-op threads per session; 0 lets ONNX Runtime choose (one per core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Inter-op threads per session; 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>
    /// Let idle intra-op and inter-op threads spin waiting for work. Off by default: spinning buys a little latency per
    /// run but burns processor time that the rest of a small board (audio ingest, other sessions) needs.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>The providers offered by the ONNX Runtime in this process (replaceable in tests).</summary>
    public Func<IReadOnlyCollection<string>> InstalledProviders { get; init; } = static () => [.. ExecutionProviderSelector.InstalledProviders()];

    /// <summary>CPU only, with the given intra-op threads.</summary>
    /// <param name="intraOpThreads">Intra-op threads; 0 lets ONNX Runtime choose.</param>
    public static InferenceSettings Cpu(int intraOpThreads = 0) => new() { IntraOpThreads = intraOpThreads };

    /// <summary>The chain and threads of a device profile.</summary>
    /// <param name="profile">A validated profile.</param>
    public static InferenceSettings FromProfile(DeviceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new() { ExecutionProviders = profile.ExecutionProviders, IntraOpThreads = profile.Threads.IntraOp, InterOpThreads = profile.Threads.InterOp };
    }

    /// <summary>The ONNX Runtime session configuration entries these settings stand for (the spin policy), by key.</summary>
    public IReadOnlyDictionary<string, string> SessionConfigEntries()
    {
        var spinning = AllowSpinning ? "1" : "0";
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["session.intra_op.allow_spinning"] = spinning,
            ["session.inter_op.allow_spinning"] = spinning,
        };
    }

    /// <summary>The providers to try, in order (see <see cref="ExecutionProviderSelector.Candidates"/>).</summary>
    public IReadOnlyList<ExecutionProviderSpec> ProviderCandidates() => ExecutionProviderSelector.Candidates(ExecutionProviders, InstalledProviders());
}
