using System.Runtime.InteropServices;

namespace Appliance.Benchmarks.Meetings;

/// <summary>
/// Runs a clean-up once when this program is told to stop (SIGINT, SIGTERM, SIGHUP, SIGQUIT) or exits, so that a
/// daemon it started never outlives it. The signal's default action (ending the program) still follows. Dispose to
/// stop watching.
/// </summary>
internal sealed class ExitGuard : IDisposable
{
    private readonly Action _cleanup;
    private readonly List<PosixSignalRegistration> _signals = [];
    private int _ran;

    public ExitGuard(Action cleanup)
    {
        _cleanup = cleanup;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, _ => Run()));
        }

        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }
    }

    private void OnProcessExit(object? sender, EventArgs e) => Run();

    private void Run()
    {
        if (Interlocked.Exchange(ref _ran, 1) == 0)
        {
            _cleanup();
        }
    }
}
