using Appliance.Inference;
using Appliance.Profiles;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Speech;

/// <summary>How the speech models' ONNX Runtime sessions are created: the profile's provider chain and threads.</summary>
public sealed record SpeechSessionOptions
{
    /// <summary>The execution-provider chain in order of preference; empty means CPU.</summary>
    public IReadOnlyList<ExecutionProviderSpec> ExecutionProviders { get; init; } = [];

    /// <summary>Intra-op threads; 0 lets ONNX Runtime choose.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Inter-op threads; 0 lets ONNX Runtime choose.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>
    /// Let idle intra-op threads spin waiting for work. Off by default: spinning buys a little latency per run but
    /// burns processor time that the rest of a small board (audio ingest, other sessions) needs.
    /// </summary>
    public bool AllowSpinning { get; init; }

    /// <summary>The providers offered by the ONNX Runtime in this process (replaceable in tests).</summary>
    public Func<IReadOnlyCollection<string>> InstalledProviders { get; init; } = () => [.. ExecutionProviderSelector.InstalledProviders()];

    /// <summary>CPU only, with the given intra-op threads.</summary>
    public static SpeechSessionOptions Cpu(int intraOpThreads = 0) => new() { IntraOpThreads = intraOpThreads };

    /// <summary>The chain and threads of a device profile.</summary>
    public static SpeechSessionOptions FromProfile(DeviceProfile profile)
    {
        ArgumentNullException.ThrowIfNull(profile);
        return new() { ExecutionProviders = profile.ExecutionProviders, IntraOpThreads = profile.Threads.IntraOp, InterOpThreads = profile.Threads.InterOp };
    }
}

/// <summary>A session and the provider it runs on.</summary>
internal sealed record OpenedSession(InferenceSession Session, string ExecutionProvider, IReadOnlyList<string> Fallbacks);

/// <summary>
/// Creates sessions with the provider <see cref="ExecutionProviderSelector"/> picks from the chain, its options applied
/// to <see cref="SessionOptions"/>; when appending the provider or creating the session with it fails, the next
/// candidate is tried and finally the CPU provider.
/// </summary>
internal static class SpeechSessions
{
    public static SpeechResult<OpenedSession> Open(string path, SpeechSessionOptions options)
    {
        if (!File.Exists(path))
        {
            return SpeechResult.Failure<OpenedSession>(SpeechErrorCode.ModelMissing, $"{path} does not exist.");
        }

        var choice = ExecutionProviderSelector.Choose(options.ExecutionProviders, options.InstalledProviders());
        var fallbacks = choice.Skipped.Select(s => $"{s.Name}: {s.Reason}").ToList();
        var candidates = new List<ExecutionProviderSpec> { choice.Chosen };
        if (choice.Chosen.Name != ExecutionProviderSelector.Cpu)
        {
            candidates.Add(new ExecutionProviderSpec { Name = ExecutionProviderSelector.Cpu });
        }

        foreach (var provider in candidates)
        {
            var sessionOptions = new SessionOptions { IntraOpNumThreads = options.IntraOpThreads, InterOpNumThreads = options.InterOpThreads };
            var spinning = options.AllowSpinning ? "1" : "0";
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", spinning);
            sessionOptions.AddSessionConfigEntry("session.inter_op.allow_spinning", spinning);
            try
            {
                Append(sessionOptions, provider);
                return SpeechResult.Success<OpenedSession>(new OpenedSession(new InferenceSession(path, sessionOptions), provider.Name, fallbacks));
            }
            catch (OnnxRuntimeException ex) when (provider.Name != ExecutionProviderSelector.Cpu)
            {
                fallbacks.Add($"{provider.Name}: {ex.Message}");
            }
            catch (OnnxRuntimeException ex)
            {
                return SpeechResult.Failure<OpenedSession>(SpeechErrorCode.ModelInvalid, $"{path} cannot be loaded: {ex.Message}");
            }
            catch (EntryPointNotFoundException ex)
            {
                fallbacks.Add($"{provider.Name}: {ex.Message}");
            }
            finally
            {
                sessionOptions.Dispose();
            }
        }

        return SpeechResult.Failure<OpenedSession>(SpeechErrorCode.ModelInvalid, $"{path}: no execution provider could load it ({string.Join("; ", fallbacks)}).");
    }

    private static void Append(SessionOptions sessionOptions, ExecutionProviderSpec provider)
    {
        var providerOptions = provider.Options.ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        switch (provider.Name)
        {
            case ExecutionProviderSelector.Cpu:
                return;
            case "CUDAExecutionProvider":
                using (var cuda = new OrtCUDAProviderOptions())
                {
                    cuda.UpdateOptions(providerOptions);
                    sessionOptions.AppendExecutionProvider_CUDA(cuda);
                }

                return;
            default:
                // The generic entry point takes the short name ("XNNPACK", "QNN", "OpenVINO", "CoreML", ...).
                sessionOptions.AppendExecutionProvider(provider.Name.Replace("ExecutionProvider", string.Empty, StringComparison.Ordinal), providerOptions);
                return;
        }
    }
}
