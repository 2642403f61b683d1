using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Appliance.Benchmarks.Llm;

/// <summary>
/// A running <c>appliance-bench llm --engine X --child</c>, started with the .NET host that runs this process: its
/// progress goes through to standard error, and it runs one generation per <see cref="RunAsync"/> (see
/// <see cref="EngineChild"/> for the line protocol). Disposing kills a child that has not finished.
/// </summary>
internal sealed class EngineChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly LlmEngineKind _kind;

    private EngineChildProcess(Process process, LlmEngineKind kind)
    {
        _process = process;
        _kind = kind;
    }

    /// <summary>Starts the child and waits until its model is loaded.</summary>
    public static async Task<EngineChildProcess> StartAsync(LlmBenchSettings settings, LlmEngineKind kind, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(typeof(EngineChildProcess).Assembly.Location);
        foreach (var argument in settings.ChildArguments(kind))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {start.FileName}");
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine(e.Data);
            }
        };
        process.BeginErrorReadLine();
        var child = new EngineChildProcess(process, kind);
        try
        {
            var first = await child.ReadMessageAsync(cancellationToken).ConfigureAwait(false);
            return first == EngineChild.ReadyLine ? child : throw child.Unexpected(first);
        }
        catch
        {
            await child.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs one generation; a warm-up run is not part of the child's result.</summary>
    public async Task<RunSample> RunAsync(bool warmup, CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync(warmup ? EngineChild.WarmupCommand : EngineChild.RunCommand).ConfigureAwait(false);
        await _process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
        var line = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(line, BenchJson.Default.RunSample) ?? throw Unexpected(line);
    }

    /// <summary>Ends the child's input and returns its result: load time, peak memory and the measured runs.</summary>
    public async Task<EngineResult> FinishAsync(CancellationToken cancellationToken)
    {
        _process.StandardInput.Close();
        var line = await ReadMessageAsync(cancellationToken).ConfigureAwait(false);
        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Deserialize(line, BenchJson.Default.EngineResult) ?? throw Unexpected(line);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }

    // The next protocol line of the child (the ready line or JSON); other output (a native library's) is skipped.
    private async Task<string> ReadMessageAsync(CancellationToken cancellationToken)
    {
        while (await _process.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line == EngineChild.ReadyLine || line.StartsWith('{'))
            {
                return line;
            }
        }

        await _process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        throw new InvalidOperationException($"the {_kind.CliName()} child ended (exit code {_process.ExitCode}) before answering; its standard error is above");
    }

    private InvalidOperationException Unexpected(string line) => new($"the {_kind.CliName()} child answered '{line}'");

    // The runtime directory is <dotnet root>/shared/Microsoft.NETCore.App/<version>/.
    private static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
