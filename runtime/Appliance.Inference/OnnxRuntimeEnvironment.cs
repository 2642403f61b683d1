using System.Collections.ObjectModel;
using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace Appliance.Inference;

/// <summary>
/// The process's ONNX Runtime: its telemetry switched off first thing, the execution providers its library offers, and
/// its environment, made only when the first session or GenAI model needs it.
/// </summary>
/// <remarks>
/// <para>
/// Telemetry: the Linux builds of ONNX Runtime carry a telemetry client (1DS) that, unless <c>ORT_DISABLE_TELEMETRY</c>
/// is set when the native library starts it, keeps a device id and an event store under
/// <c>~/.cache/Microsoft/DeveloperTools/.onnxruntime</c> and looks up and posts to a Microsoft collector every few
/// seconds; turning the environment's telemetry events off does not stop it. An appliance reaches nothing but its
/// broker (<c>appliance-bench privacy-check</c> records every socket to prove it), so <see cref="DisableTelemetry"/>
/// sets the variable in the process's native environment. The daemon calls it first thing in <c>Main</c>, while no
/// other thread could be reading the environment that <c>setenv</c> changes.
/// </para>
/// <para>
/// The environment (<see cref="Instance"/>) registers every operator schema the library knows: about 11 MiB of native
/// heap, measured with the C API on ONNX Runtime 1.31 for linux-x64. A daemon with no model loaded does not pay it:
/// <see cref="AvailableProviders"/> asks the library's C API directly, which needs no environment, and
/// <see cref="InferenceSessions"/> and the language-model service call <see cref="Ensure"/> before their first
/// session or GenAI model (GenAI runs on the same library and environment). Thread-safe.
/// </para>
/// </remarks>
public static partial class OnnxRuntimeEnvironment
{
    /// <summary>The variable the native library reads (its <c>core/platform/posix/telemetry_1ds.cc</c>).</summary>
    public const string DisableTelemetryVariable = "ORT_DISABLE_TELEMETRY";

    /// <summary>
    /// The C API version asked of <c>OrtGetApiBase</c>: <c>ORT_API_VERSION</c> of the pinned Microsoft.ML.OnnxRuntime
    /// (1.31), the version its own managed bindings ask for, so a library they accept serves this too.
    /// </summary>
    private const uint ApiVersion = 31;

    // Slots of OrtApi's function table (onnxruntime_c_api.h): a frozen ABI, since the table only grows at its end.
    private const int GetErrorMessageSlot = 2;
    private const int ReleaseStatusSlot = 93;
    private const int GetAvailableProvidersSlot = 125;
    private const int ReleaseAvailableProvidersSlot = 126;

    private static readonly Lazy<bool> s_telemetryDisabled = new(SetTelemetryVariable);
    private static readonly Lazy<OrtEnv> s_instance = new(Create);
    private static readonly Lazy<IReadOnlyList<string>> s_availableProviders = new(QueryAvailableProviders);

    /// <summary>The environment, with telemetry off; made at the first call (about 11 MiB of native heap).</summary>
    public static OrtEnv Instance => s_instance.Value;

    /// <summary>Sets <see cref="DisableTelemetryVariable"/> in the native environment, once; before any other thread runs.</summary>
    /// <exception cref="InvalidOperationException"><c>setenv</c> failed.</exception>
    public static void DisableTelemetry() => _ = s_telemetryDisabled.Value;

    /// <summary>Makes the environment, with telemetry off, unless it is made already.</summary>
    public static void Ensure() => _ = s_instance.Value;

    /// <summary>
    /// The execution providers compiled into the ONNX Runtime library this process loads (for example
    /// <c>CPUExecutionProvider</c>), asked once; loads the library but makes no environment.
    /// </summary>
    /// <exception cref="InvalidOperationException">The library refused the API version or the query.</exception>
    /// <exception cref="DllNotFoundException">The ONNX Runtime library is not beside the daemon.</exception>
    /// <exception cref="EntryPointNotFoundException">The library found is not ONNX Runtime.</exception>
    public static IReadOnlyList<string> AvailableProviders() => s_availableProviders.Value;

    private static bool SetTelemetryVariable()
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

        return true;
    }

    private static OrtEnv Create()
    {
        DisableTelemetry();
        var environment = OrtEnv.Instance();
        environment.DisableTelemetryEvents();
        return environment;
    }

    private static unsafe ReadOnlyCollection<string> QueryAvailableProviders()
    {
        DisableTelemetry();
        var apiBase = (OrtApiBase*)GetApiBase();
        var api = (nint*)((delegate* unmanaged<uint, nint>)apiBase->GetApi)(ApiVersion);
        if (api is null)
        {
            throw new InvalidOperationException($"the ONNX Runtime library does not offer C API version {ApiVersion}");
        }

        nint* names;
        int count;
        var status = ((delegate* unmanaged<nint**, int*, nint>)api[GetAvailableProvidersSlot])(&names, &count);
        if (status != 0)
        {
            var message = Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)api[GetErrorMessageSlot])(status));
            ((delegate* unmanaged<nint, void>)api[ReleaseStatusSlot])(status);
            throw new InvalidOperationException($"ONNX Runtime could not list its execution providers: {message}");
        }

        try
        {
            var providers = new string[count];
            for (var i = 0; i < count; i++)
            {
                providers[i] = Marshal.PtrToStringUTF8(names[i]) ?? "";
            }

            return Array.AsReadOnly(providers);
        }
        finally
        {
            // Documented never to fail: the status it returns is always null.
            _ = ((delegate* unmanaged<nint*, int, nint>)api[ReleaseAvailableProvidersSlot])(names, count);
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct OrtApiBase
    {
        public nint GetApi;
        public nint GetVersionString;
    }

    [LibraryImport("onnxruntime", EntryPoint = "OrtGetApiBase")]
    private static partial nint GetApiBase();

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int SetNativeVariable(string name, string value, int overwrite);
}
