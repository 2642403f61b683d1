using Microsoft.ML.OnnxRuntimeGenAI;

namespace Appliance.Llm;

/// <summary>
/// Generators kept after requests that name a <see cref="LlmRequest.PrefixCacheKey"/>, one per key: a generator holds
/// its last prompt in its key-value cache, so the next request with the same key and the same sampling settings is
/// rewound (GenAI <c>RewindTo</c>) to the tokens both prompts share and pays only for the rest. A generator is lent to
/// one request at a time; a request that finds it lent, or kept with other settings, makes its own. Each kept
/// generator holds a key-value cache of the model's whole context. Thread-safe.
/// </summary>
internal sealed class PrefixCache : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private bool _disposed;

    /// <summary>A kept generator, its parameters, the settings they were made with and the prompt its cache holds.</summary>
    internal sealed class Entry(GeneratorParams parameters, Generator generator, string settings, int[] prompt) : IDisposable
    {
        public GeneratorParams Parameters { get; } = parameters;

        public Generator Generator { get; } = generator;

        /// <summary>The search options and guidance the generator was made with (they cannot change on it).</summary>
        public string Settings { get; } = settings;

        /// <summary>The prompt tokens at the start of its key-value cache.</summary>
        public int[] Prompt { get; } = prompt;

        public void Dispose()
        {
            Generator.Dispose();
            Parameters.Dispose();
        }
    }

    /// <summary>Lends the generator kept under <paramref name="key"/> when it was made with <paramref name="settings"/>; null otherwise.</summary>
    public Entry? Take(string key, string settings)
    {
        Entry? stale = null;
        try
        {
            lock (_gate)
            {
                if (!_entries.Remove(key, out var entry))
                {
                    return null;
                }

                if (entry.Settings == settings)
                {
                    return entry;
                }

                stale = entry;
                return null;
            }
        }
        finally
        {
            stale?.Dispose();
        }
    }

    /// <summary>Keeps <paramref name="entry"/> under <paramref name="key"/> for the next request (replacing and freeing another kept meanwhile).</summary>
    public void Keep(string key, Entry entry)
    {
        Entry? replaced = null;
        lock (_gate)
        {
            if (_disposed)
            {
                replaced = entry;
            }
            else
            {
                _entries.Remove(key, out replaced);
                _entries[key] = entry;
            }
        }

        replaced?.Dispose();
    }

    /// <summary>The number of leading tokens <paramref name="a"/> and <paramref name="b"/> share.</summary>
    public static int SharedLength(ReadOnlySpan<int> a, ReadOnlySpan<int> b) => a.CommonPrefixLength(b);

    public void Dispose()
    {
        List<Entry> entries;
        lock (_gate)
        {
            _disposed = true;
            entries = [.. _entries.Values];
            _entries.Clear();
        }

        foreach (var entry in entries)
        {
            entry.Dispose();
        }
    }
}
