using System.Diagnostics;

namespace Appliance.Hardware;

/// <summary>
/// The board's loudspeaker: plays one clip at a time (16 kHz mono samples in [-1, 1]); a new clip replaces the one
/// playing, and <see cref="CutOff"/> cuts it off (barge-in). Thread-safe.
/// </summary>
public interface ISpeaker : IDisposable
{
    /// <summary>Plays <paramref name="mono16k"/>, replacing any clip still playing; returns when it has played to its end or was cut off.</summary>
    /// <returns>Null when it played; why not otherwise (the device cannot be opened).</returns>
    Task<string?> PlayAsync(float[] mono16k, CancellationToken cancellationToken);

    /// <summary>Whether a clip is playing now.</summary>
    bool IsPlaying { get; }

    /// <summary>Cuts off the clip playing, if any.</summary>
    /// <returns>Whether a clip was cut off.</returns>
    bool CutOff();
}

/// <summary>
/// The speaker through ALSA: each clip goes to <c>aplay</c> (Debian's alsa-utils) on the profile's output device as
/// 16 kHz mono WAV on its standard input; stopping kills it.
/// </summary>
/// <param name="device">The ALSA playback device, for example <c>plughw:CARD=Device,DEV=0</c>.</param>
public sealed class AlsaSpeaker(string device) : ISpeaker
{
    private readonly Lock _gate = new();
    private Process? _playing;

    /// <inheritdoc />
    public bool IsPlaying
    {
        get
        {
            lock (_gate)
            {
                return _playing is { HasExited: false };
            }
        }
    }

    /// <inheritdoc />
    public async Task<string?> PlayAsync(float[] mono16k, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mono16k);
        CutOff();
        var start = new ProcessStartInfo("aplay") { RedirectStandardInput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-q", "-D", device, "-t", "wav", "-" })
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("aplay did not start");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"cannot start aplay for {device}: {ex.Message} (install alsa-utils)";
        }

        lock (_gate)
        {
            _playing = process;
        }

        try
        {
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await process.StandardInput.BaseStream.WriteAsync(Wav.Mono16kPcm(mono16k), cancellationToken).ConfigureAwait(false);
            process.StandardInput.Close();
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            var why = (await errors.ConfigureAwait(false)).Trim();
            bool cutOff;
            lock (_gate)
            {
                cutOff = _playing != process;
            }

            return process.ExitCode == 0 || cutOff ? null : $"aplay on {device} failed ({process.ExitCode}): {why}";
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException)
        {
            // Cut off (barge-in) while the clip was being handed over or played: aplay was killed and disposed.
            return null;
        }
    }

    /// <inheritdoc />
    public bool CutOff()
    {
        lock (_gate)
        {
            if (_playing is not { } playing)
            {
                return false;
            }

            _playing = null;
            var wasPlaying = !playing.HasExited;
            if (wasPlaying)
            {
                playing.Kill();
            }

            playing.Dispose();
            return wasPlaying;
        }
    }

    /// <inheritdoc />
    public void Dispose() => CutOff();
}

/// <summary>
/// A speaker in software for boards without one and for tests: a clip "plays" for its length on the injected clock,
/// and every clip played and every cut-off is counted. Thread-safe.
/// </summary>
/// <param name="time">The clock the clips play on.</param>
public sealed class SimulatedSpeaker(TimeProvider time) : ISpeaker
{
    private readonly Lock _gate = new();
    private readonly List<float[]> _played = [];
    private DateTimeOffset _playingUntil = DateTimeOffset.MinValue;
    private CancellationTokenSource? _clip;

    /// <summary>Every clip given to <see cref="PlayAsync"/>, in order.</summary>
    public IReadOnlyList<float[]> Played
    {
        get
        {
            lock (_gate)
            {
                return [.. _played];
            }
        }
    }

    /// <summary>How many clips <see cref="CutOff"/> cut off.</summary>
    public int CutOffCount { get; private set; }

    /// <inheritdoc />
    public bool IsPlaying
    {
        get
        {
            lock (_gate)
            {
                return time.GetUtcNow() < _playingUntil;
            }
        }
    }

    /// <inheritdoc />
    public async Task<string?> PlayAsync(float[] mono16k, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(mono16k);
        var length = TimeSpan.FromSeconds(mono16k.Length / 16000.0);
        CancellationTokenSource clip;
        lock (_gate)
        {
            _clip?.Cancel();
            _played.Add(mono16k);
            _playingUntil = time.GetUtcNow() + length;
            _clip = clip = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        }

        try
        {
            await Task.Delay(length, time, clip.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Cut off.
        }
        finally
        {
            lock (_gate)
            {
                if (_clip == clip)
                {
                    _clip = null;
                }
            }

            clip.Dispose();
        }

        return null;
    }

    /// <inheritdoc />
    public bool CutOff()
    {
        lock (_gate)
        {
            if (time.GetUtcNow() >= _playingUntil)
            {
                return false;
            }

            _playingUntil = DateTimeOffset.MinValue;
            _clip?.Cancel();
            CutOffCount++;
            return true;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }
}

/// <summary>16 kHz mono 16-bit PCM WAV bytes, for players that take a file.</summary>
internal static class Wav
{
    public static byte[] Mono16kPcm(float[] samples)
    {
        var data = samples.Length * 2;
        var bytes = new byte[44 + data];
        "RIFF"u8.CopyTo(bytes);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), 36 + data);
        "WAVEfmt "u8.CopyTo(bytes.AsSpan(8));
        BitConverter.TryWriteBytes(bytes.AsSpan(16), 16);
        BitConverter.TryWriteBytes(bytes.AsSpan(20), (short)1);
        BitConverter.TryWriteBytes(bytes.AsSpan(22), (short)1);
        BitConverter.TryWriteBytes(bytes.AsSpan(24), 16000);
        BitConverter.TryWriteBytes(bytes.AsSpan(28), 32000);
        BitConverter.TryWriteBytes(bytes.AsSpan(32), (short)2);
        BitConverter.TryWriteBytes(bytes.AsSpan(34), (short)16);
        "data"u8.CopyTo(bytes.AsSpan(36));
        BitConverter.TryWriteBytes(bytes.AsSpan(40), data);
        for (var i = 0; i < samples.Length; i++)
        {
            BitConverter.TryWriteBytes(bytes.AsSpan(44 + (i * 2)), (short)Math.Clamp(samples[i] * 32767f, -32768f, 32767f));
        }

        return bytes;
    }
}
