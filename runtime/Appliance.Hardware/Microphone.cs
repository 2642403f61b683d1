using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace Appliance.Hardware;

/// <summary>
/// The board's microphone: interleaved float samples in [-1, 1] at <see cref="SampleRate"/> with
/// <see cref="Channels"/> channels, in chunks as the capture delivers them. One reader at a time.
/// </summary>
public interface IMicrophone : IDisposable
{
    /// <summary>Samples per second per channel, in Hz.</summary>
    int SampleRate { get; }

    /// <summary>Channels interleaved in each chunk (1 is mono).</summary>
    int Channels { get; }

    /// <summary>Chunks until cancelled or until the capture fails (then the enumeration ends; see <see cref="Problem"/>).</summary>
    IAsyncEnumerable<float[]> CaptureAsync(CancellationToken cancellationToken);

    /// <summary>Why capture stopped or could not start; null while it works.</summary>
    string? Problem { get; }

    /// <summary>Samples (all channels) captured but dropped, oldest first, because the reader fell behind.</summary>
    long DroppedSamples { get; }
}

/// <summary>
/// A microphone in software for boards without one and for tests: it "hears" the clips given to
/// <see cref="Play"/>, delivered in 80 ms chunks at real-time pace on the injected clock, and nothing in between
/// (an idle room costs no CPU). Thread-safe.
/// </summary>
/// <param name="sampleRate">Samples per second per channel, in Hz, of the clips it is given.</param>
/// <param name="channels">Channels interleaved in the clips it is given.</param>
/// <param name="time">The clock that paces delivery.</param>
public sealed class SimulatedMicrophone(int sampleRate, int channels, TimeProvider time) : IMicrophone
{
    private readonly Channel<float[]> _clips = Channel.CreateUnbounded<float[]>();

    /// <inheritdoc/>
    public int SampleRate { get; } = sampleRate;

    /// <inheritdoc/>
    public int Channels { get; } = channels;

    /// <summary>Always null: the simulated microphone cannot fail.</summary>
    public string? Problem => null;

    /// <summary>Always 0: a simulated clip waits for its reader.</summary>
    public long DroppedSamples => 0;

    /// <summary>Queues a clip (interleaved samples at this microphone's rate and channel count).</summary>
    public void Play(float[] samples) => _clips.Writer.TryWrite(samples);

    /// <summary>Each queued clip in 80 ms chunks, one chunk per 80 ms of the clock; ends when cancelled, or when disposed once the queued clips are delivered.</summary>
    /// <param name="cancellationToken">Ends the enumeration (without throwing).</param>
    public async IAsyncEnumerable<float[]> CaptureAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunk = SampleRate * Channels * 80 / 1000;
        var period = TimeSpan.FromMilliseconds(80);
        while (true)
        {
            float[] clip;
            try
            {
                clip = await _clips.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ChannelClosedException)
            {
                yield break; // cancelled, or disposed with every queued clip delivered
            }

            var started = time.GetTimestamp();
            for (var offset = 0; offset < clip.Length; offset += chunk)
            {
                yield return clip[offset..Math.Min(clip.Length, offset + chunk)];
                var due = period * ((offset / chunk) + 1) - time.GetElapsedTime(started);
                if (due > TimeSpan.Zero)
                {
                    try
                    {
                        await Task.Delay(due, time, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        yield break;
                    }
                }
            }
        }
    }

    /// <summary>Stops accepting clips: later <see cref="Play"/> calls are ignored.</summary>
    public void Dispose() => _clips.Writer.TryComplete();
}

/// <summary>
/// An ALSA capture device read through <c>arecord</c> (Debian package alsa-utils) as raw 16-bit little-endian PCM: the
/// device name comes from the profile's <c>audio.device</c>. Capture is read into a bounded queue of 40 ms chunks (2 s
/// in all) by its own task, so a reader that falls behind loses the oldest audio, counted in <see cref="DroppedSamples"/>,
/// instead of stalling arecord. When arecord is missing or exits, capture ends and <see cref="Problem"/> says why.
/// </summary>
/// <param name="device">The ALSA device name, for example <c>plughw:1,0</c>.</param>
/// <param name="sampleRate">Samples per second to capture.</param>
/// <param name="channels">Channels to capture.</param>
public sealed class AlsaMicrophone(string device, int sampleRate, int channels) : IMicrophone
{
    private const int QueuedChunks = 50;
    private long _dropped;

    /// <inheritdoc/>
    public int SampleRate { get; } = sampleRate;

    /// <inheritdoc/>
    public int Channels { get; } = channels;

    /// <summary>Why arecord could not start or stopped, with its error output; null until then.</summary>
    public string? Problem { get; private set; }

    /// <inheritdoc/>
    public long DroppedSamples => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Starts arecord on the device and yields its audio in chunks of up to 40 ms, converted to floats in [-1, 1];
    /// arecord is stopped when the enumeration ends.
    /// </summary>
    /// <param name="cancellationToken">Stops arecord and ends the enumeration (without throwing).</param>
    public async IAsyncEnumerable<float[]> CaptureAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("arecord") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-q", "-D", device, "-f", "S16_LE", "-r", SampleRate.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", Channels.ToString(System.Globalization.CultureInfo.InvariantCulture), "-t", "raw" })
        {
            start.ArgumentList.Add(arg);
        }

        Process? process;
        try
        {
            process = Process.Start(start);
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            Problem = $"cannot start arecord for {device}: {ex.Message} (install alsa-utils)";
            yield break;
        }

        if (process is null)
        {
            Problem = $"cannot start arecord for {device}";
            yield break;
        }

        var chunks = Channel.CreateBounded<float[]>(
            new BoundedChannelOptions(QueuedChunks) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            dropped => Interlocked.Add(ref _dropped, dropped.Length));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pump = PumpAsync(process, chunks.Writer, stop.Token);
        try
        {
            await foreach (var chunk in chunks.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                yield return chunk;
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await pump.ConfigureAwait(false);
            process.Dispose();
        }
    }

    /// <summary>Does nothing: each capture stops its own arecord process when its enumeration ends.</summary>
    public void Dispose()
    {
    }

    /// <summary>Reads arecord's output into <paramref name="chunks"/> until it ends or <paramref name="cancellationToken"/> fires; completes the writer.</summary>
    private async Task PumpAsync(Process process, ChannelWriter<float[]> chunks, CancellationToken cancellationToken)
    {
        using var kill = cancellationToken.Register(() => process.Kill());
        var stream = process.StandardOutput.BaseStream;
        var buffer = new byte[SampleRate * Channels * 2 / 25]; // 40 ms
        var frameBytes = 2 * Channels;
        var carried = 0; // the bytes of a partial frame left from the previous read
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(carried), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    if (!cancellationToken.IsCancellationRequested)
                    {
                        Problem = $"arecord stopped: {await process.StandardError.ReadToEndAsync(CancellationToken.None).ConfigureAwait(false)}".Trim();
                    }

                    return;
                }

                var available = carried + read;
                var whole = available - (available % frameBytes);
                var samples = new float[whole / 2];
                for (var i = 0; i < samples.Length; i++)
                {
                    samples[i] = BinaryPrimitives.ReadInt16LittleEndian(buffer.AsSpan(2 * i)) / 32768f;
                }

                carried = available - whole;
                buffer.AsSpan(whole, carried).CopyTo(buffer);

                chunks.TryWrite(samples);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // Stopped, or arecord went away: the reader's enumeration ends.
        }
        finally
        {
            chunks.TryComplete();
        }
    }
}
