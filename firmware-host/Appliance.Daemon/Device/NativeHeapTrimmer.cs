using System.Runtime.InteropServices;
using Appliance.Inference;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Device;

/// <summary>
/// Trims the C library's heap (<see cref="NativeHeap.Trim"/>) every <see cref="MemoryOptions.TrimIntervalSeconds"/>:
/// memory that ONNX Runtime, GenAI and the codecs freed but glibc kept resident goes back to the system, so it is there
/// for the appliance's own software. In the soak's daemons one trim gave back 16 to 27 MB of 200 to 285 MB (see
/// docs/benchmarks.md, Soak). While a trim walks a malloc arena, allocations from that arena wait for it.
/// </summary>
internal sealed partial class NativeHeapTrimmer(IOptions<MemoryOptions> options, TimeProvider time, ILogger<NativeHeapTrimmer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = options.Value.TrimIntervalSeconds;
        if (seconds == 0)
        {
            return;
        }

        if (!NativeHeap.CanTrim)
        {
            LogNotGlibc(logger, RuntimeInformation.OSDescription);
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                var before = logger.IsEnabled(LogLevel.Debug) ? ResidentMemory.Bytes() : 0;
                if (NativeHeap.Trim() && before > 0)
                {
                    var after = ResidentMemory.Bytes();
                    LogTrimmed(logger, before / (1024.0 * 1024.0), after / (1024.0 * 1024.0));
                }

                if (!NativeHeap.CanTrim)
                {
                    LogNoMallocTrim(logger);
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopped; also when the host's start failed after this service started and the host is disposed
            // without a stop, where the host would log the cancellation as this service's failure.
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Trimmed the native heap: resident set {BeforeMib:F1} MiB before, {AfterMib:F1} MiB after.")]
    private static partial void LogTrimmed(ILogger logger, double beforeMib, double afterMib);

    [LoggerMessage(Level = LogLevel.Information, Message = "The native heap is not trimmed: {System} has no glibc heap to trim.")]
    private static partial void LogNotGlibc(ILogger logger, string system);

    [LoggerMessage(Level = LogLevel.Information, Message = "The native heap is no longer trimmed: the C library has no malloc_trim.")]
    private static partial void LogNoMallocTrim(ILogger logger);
}
