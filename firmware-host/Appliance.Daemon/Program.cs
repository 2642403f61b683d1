using Appliance.Daemon;
using Appliance.Inference;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

const int ExitConfigurationError = 2;
const int ExitStartFailure = 1;

// First, while the process has one thread of its own: ONNX Runtime's telemetry is turned off through the C library's
// environment (setenv), which must not race with other threads reading it. Its environment waits for the first model.
OnnxRuntimeEnvironment.DisableTelemetry();

var built = DaemonHost.Build(args);
if (built.Host is not { } host)
{
    await Console.Error.WriteLineAsync("appliance-daemon: refusing to start, the configuration is invalid:");
    foreach (var problem in built.Problems)
    {
        await Console.Error.WriteLineAsync($"  {problem}");
    }

    return ExitConfigurationError;
}

using (host)
{
    try
    {
        // After an update's switch or a rollback, the service manager starts the daemon again on the other models.
        var restart = host.Services.GetRequiredService<Appliance.Daemon.Ota.DaemonRestart>();
        await host.RunAsync();
        return restart.Requested ? Appliance.Daemon.Ota.DaemonRestart.ExitCode : 0;
    }
    catch (OptionsValidationException ex)
    {
        await Console.Error.WriteLineAsync("appliance-daemon: refusing to start, the configuration is invalid:");
        foreach (var failure in ex.Failures)
        {
            await Console.Error.WriteLineAsync($"  {failure}");
        }

        return ExitConfigurationError;
    }
    catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or System.Security.Cryptography.CryptographicException or UnauthorizedAccessException)
    {
        await Console.Error.WriteLineAsync($"appliance-daemon: could not start: {ex.Message}");
        return ExitStartFailure;
    }
    catch (InvalidOperationException ex) when (ex.InnerException is System.Net.HttpListenerException listener)
    {
        // OpenTelemetry's Prometheus exporter opens its scrape endpoint while the host starts.
        await Console.Error.WriteLineAsync($"appliance-daemon: could not start: the metrics scrape endpoint (Metrics:PrometheusHost, Metrics:PrometheusPort) cannot listen: {listener.Message}");
        return ExitStartFailure;
    }
}
