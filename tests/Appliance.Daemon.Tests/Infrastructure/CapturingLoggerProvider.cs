using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>Keeps every log entry of a daemon under test and echoes it to the test output.</summary>
internal sealed class CapturingLoggerProvider(ITestOutputHelper? output) : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, EventId Id, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <summary>Completes when an entry whose message satisfies <paramref name="match"/> is written (or already was).</summary>
    public Task WaitForAsync(Func<string, bool> match, TimeSpan limit)
    {
        var written = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Check(string message)
        {
            if (match(message))
            {
                written.TrySetResult();
            }
        }

        Written += Check;
        foreach (var entry in Entries)
        {
            Check(entry.Message);
        }

        return written.Task.WaitAsync(limit).ContinueWith(t => { Written -= Check; return t; }, TaskScheduler.Default).Unwrap();
    }

    private event Action<string>? Written;

    public void Dispose()
    {
    }

    private void Write(LogLevel level, string category, EventId id, string message)
    {
        Entries.Enqueue((level, category, id, message));
        Written?.Invoke(message);
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
