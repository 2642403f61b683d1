using Appliance.Benchmarks;
using Appliance.Inference;

// The engines measured in this process (bare GenAI, ONNX Runtime sessions) run with the runtime's telemetry off, as the daemon does.
OnnxRuntimeEnvironment.Ensure();
return await BenchmarkCli.InvokeAsync(args).ConfigureAwait(false);
