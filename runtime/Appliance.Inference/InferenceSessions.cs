using System.Diagnostics.CodeAnalysis;
using Appliance.Profiles;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Inference;

/// <summary>An ONNX Runtime session and the provider it runs on. The owner disposes <see cref="Session"/>.</summary>
/// <param name="Session">The session; thread-safe for concurrent runs.</param>
/// <param name="ExecutionProvider">The ONNX Runtime name of the provider it was created with.</param>
/// <param name="Fallbacks">Providers tried before it that failed, each as "name: reason".</param>
public sealed record OpenedSession(InferenceSession Session, string ExecutionProvider, IReadOnlyList<string> Fallbacks);

/// <summary>Why a session could not be created.</summary>
public enum SessionOpenError
{
    /// <summary>The model file does not exist.</summary>
    ModelMissing,

    /// <summary>The file exists but no provider could load it.</summary>
    ModelInvalid,
}

/// <summary>A session, or why there is none.</summary>
/// <param name="Session">The session; null on failure.</param>
/// <param name="Error">What failed; null on success.</param>
/// <param name="Message">Which file and why, for people; null on success.</param>
public readonly record struct SessionOpenResult(OpenedSession? Session, SessionOpenError? Error, string? Message)
{
    /// <summary>True when <see cref="Session"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Session))]
    [MemberNotNullWhen(false, nameof(Message))]
    public bool IsSuccess => Session is not null;
}

/// <summary>
/// The one place ONNX Runtime sessions are created: with the first provider of the settings' chain that the runtime
/// offers and that can load the graph, its options from the profile applied, falling back along the chain and finally to
/// the CPU provider; with the settings' threads and spin policy. Thread-safe.
/// </summary>
public static class InferenceSessions
{
    /// <summary>Creates a session for the graph at <paramref name="path"/>.</summary>
    /// <param name="path">An <c>.onnx</c> file.</param>
    /// <param name="settings">Providers, threads and spin policy.</param>
    /// <returns>The session, or why none could be created; never throws for a missing or broken file.</returns>
    public static SessionOpenResult Open(string path, InferenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(settings);
        if (!File.Exists(path))
        {
            return new SessionOpenResult(null, SessionOpenError.ModelMissing, $"{path} does not exist.");
        }

        OnnxRuntimeEnvironment.Ensure();
        var installed = settings.InstalledProviders();
        var choice = ExecutionProviderSelector.Choose(settings.ExecutionProviders, installed);
        var fallbacks = choice.Skipped.Select(s => $"{s.Name}: {s.Reason}").ToList();
        foreach (var provider in ExecutionProviderSelector.Candidates(settings.ExecutionProviders, installed))
        {
            using var options = new SessionOptions { IntraOpNumThreads = settings.IntraOpThreads, InterOpNumThreads = settings.InterOpThreads, EnableCpuMemArena = settings.CpuMemoryArena };
            foreach (var (key, value) in settings.SessionConfigEntries())
            {
                options.AddSessionConfigEntry(key, value);
            }

            try
            {
                Append(options, provider);
                return new SessionOpenResult(new OpenedSession(new InferenceSession(path, options), provider.Name, fallbacks), null, null);
            }
            catch (OnnxRuntimeException ex) when (provider.Name != ExecutionProviderSelector.Cpu)
            {
                fallbacks.Add($"{provider.Name}: {ex.Message}");
            }
            catch (OnnxRuntimeException ex)
            {
                return new SessionOpenResult(null, SessionOpenError.ModelInvalid, $"{path} cannot be loaded: {ex.Message}");
            }
            catch (EntryPointNotFoundException ex)
            {
                fallbacks.Add($"{provider.Name}: {ex.Message}");
            }
        }

        return new SessionOpenResult(null, SessionOpenError.ModelInvalid, $"{path}: no execution provider could load it ({string.Join("; ", fallbacks)}).");
    }

    private static void Append(SessionOptions options, ExecutionProviderSpec provider)
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
                    options.AppendExecutionProvider_CUDA(cuda);
                }

                return;
            default:
                // The generic entry point takes the short name ("XNNPACK", "QNN", "OpenVINO", "CoreML", ...).
                options.AppendExecutionProvider(provider.Name.Replace("ExecutionProvider", string.Empty, StringComparison.Ordinal), providerOptions);
                return;
        }
    }
}
