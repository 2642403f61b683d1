using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>Keeps every log entry of a daemon under test and echoes it to the test output.</summary>
internal sealed class CapturingLoggerProvider(ITestOutputHelper? output) : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, EventId Id, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(LogLevel level, string category, EventId id, string message)
    {
        Entries.Enqueue((level, category, id, message));
        try
        {
            output?.WriteLine($"{DateTime.Now:HH:mm:ss.fff} {level} {category}[{id.Id}] {message}");
        }
        catch (InvalidOperationException)
        {
            // The test already finished; its output helper no longer takes lines.
        }
    }

    private sealed class Logger(CapturingLoggerProvider provider, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception) + (exception is null ? "" : $" | {exception.GetType().Name}: {exception.Message}");
            provider.Write(logLevel, category, eventId, message);
        }
    }
}
