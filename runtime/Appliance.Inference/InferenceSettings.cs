using Appliance.Profiles;

namespace Appliance.Inference;

/// <summary>When the idle threads of an ONNX Runtime session's pools busy-wait for work instead of sleeping.</summary>
public enum SpinPolicy
{
    /// <summary>Never spin: idle threads sleep at once. The default.</summary>
    Never,

    /// <summary>
    /// Spin only inside a run: between the parallel sections of one graph run the idle threads spin, and when the run
    /// returns they stop (<c>session.intra_op.allow_spinning</c> and <c>session.inter_op.allow_spinning</c> with
    /// <c>session.force_spinning_stop</c>): what a run
    /// gains from spinning, with nothing burnt between runs. For a session that has cores to itself.
    /// </summary>
    WithinRun,

    /// <summary>
    /// Spin inside and between runs, ONNX Runtime's own default: between two runs (while an answer is streamed out, or
    /// between Whisper's windows) the pool burns the cores the rest of the board needs.
    /// </summary>
    Always,
}

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
    /// When idle intra-op and inter-op threads spin (see <see cref="SpinPolicy"/>). Never by default: on a small board
    /// speech and the LLM share the cores, and spinning pools take them from each other.
    /// </summary>
    public SpinPolicy Spinning { get; init; } = SpinPolicy.Never;

    /// <summary>
    /// Whether ONNX Runtime's CPU allocator keeps a memory arena (<c>SessionOptions.EnableCpuMemArena</c>, and GenAI's
    /// <c>enable_cpu_mem_arena</c> session option): true, ONNX Runtime's default, keeps every block a run ever needed
    /// for reuse, so the resident set holds the largest run's working memory for the session's life; false hands each
    /// run's buffers back to the C library when the run ends, which with glibc's heap tuned (see
    /// <see cref="NativeHeap.Tune"/>) gives them back to the system.
    /// </summary>
    public bool CpuMemoryArena { get; init; } = true;

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
        var spinning = Spinning == SpinPolicy.Never ? "0" : "1";
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["session.intra_op.allow_spinning"] = spinning,
            ["session.inter_op.allow_spinning"] = spinning,
            ["session.force_spinning_stop"] = Spinning == SpinPolicy.WithinRun ? "1" : "0",
        };
    }

    /// <summary>The providers to try, in order (see <see cref="ExecutionProviderSelector.Candidates"/>).</summary>
    public IReadOnlyList<ExecutionProviderSpec> ProviderCandidates() => ExecutionProviderSelector.Candidates(ExecutionProviders, InstalledProviders());
}
