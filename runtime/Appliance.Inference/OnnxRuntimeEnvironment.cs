using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Inference;

/// <summary>
/// The process's ONNX Runtime environment, made once, with its telemetry off. The Linux builds of ONNX Runtime carry a
/// telemetry client (1DS) that, unless <c>ORT_DISABLE_TELEMETRY</c> is set when the native library starts it, keeps a
/// device id and an event store under <c>~/.cache/Microsoft/DeveloperTools/.onnxruntime</c> and looks up and posts to
/// a Microsoft collector every few seconds; turning the environment's telemetry events off does not stop it. An
/// appliance reaches nothing but its broker (<c>appliance-bench privacy-check</c> records every socket to prove it),
/// so the variable is set in the process's native environment before the library is first called. ONNX Runtime GenAI
/// runs on the same library and environment: <see cref="Ensure"/> runs before the first session or GenAI model is
/// made, as <see cref="InferenceSessions"/> and the language-model service do; the daemon calls it first thing in
/// <c>Main</c>, while no other thread could be reading the environment that <c>setenv</c> changes. Thread-safe.
/// </summary>
public static partial class OnnxRuntimeEnvironment
{
    /// <summary>The variable the native library reads (its <c>core/platform/posix/telemetry_1ds.cc</c>).</summary>
    public const string DisableTelemetryVariable = "ORT_DISABLE_TELEMETRY";

    private static readonly Lazy<OrtEnv> s_instance = new(Create);

    /// <summary>The environment, with telemetry off.</summary>
    public static OrtEnv Instance => s_instance.Value;

    /// <summary>Makes the environment, with telemetry off, unless it is made already.</summary>
    public static void Ensure() => _ = s_instance.Value;

    private static OrtEnv Create()
    {
        // .NET keeps its own copy of the environment on Unix: native code reads the C library's, set here.
        if (OperatingSystem.IsWindows())
        {
            Environment.SetEnvironmentVariable(DisableTelemetryVariable, "1");
        }
        else if (SetNativeVariable(DisableTelemetryVariable, "1", overwrite: 1) != 0)
        {
            throw new InvalidOperationException($"setenv {DisableTelemetryVariable} failed: {Marshal.GetLastPInvokeErrorMessage()}");
        }

        var environment = OrtEnv.Instance();
        environment.DisableTelemetryEvents();
        return environment;
    }

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetNativeVariable(string name, string value, int overwrite);
}
