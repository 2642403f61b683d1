using System.Diagnostics;
using Appliance.Audio;

namespace Appliance.Voice;

/// <summary>Speech of a reply (16 kHz mono samples), or why there is none.</summary>
/// <param name="Samples">The speech; empty on failure.</param>
/// <param name="Error">Why the text could not be spoken; null on success.</param>
public sealed record SynthesizedSpeech(float[] Samples, string? Error);

/// <summary>Turns a short reply into speech. Implementations are thread-safe.</summary>
public interface ISpeechSynthesizer
{
    /// <summary>Speaks <paramref name="text"/> in <paramref name="language"/>. Never throws but for cancellation.</summary>
    /// <param name="text">The reply, at most <see cref="EspeakNgSynthesizer.MaxTextChars"/> characters are spoken.</param>
    /// <param name="language">The reply's language code (<c>en</c>, <c>fa</c>, <c>ar</c>, <c>zh</c>).</param>
    /// <param name="cancellationToken">Stops the synthesis.</param>
    Task<SynthesizedSpeech> SynthesizeAsync(string text, string language, CancellationToken cancellationToken);
}

/// <summary>
/// Speech from espeak-ng (the Debian package), run as a child process per reply: the text goes in as one argument
/// (never through a shell), a WAV comes back on its standard output and is converted to 16 kHz mono. It speaks every
/// language voice commands ship with; the voice of each is the profile's, else espeak-ng's own for the language
/// (<c>en-us</c>, <c>fa</c>, <c>ar</c>, <c>cmn</c> for Mandarin). Thread-safe.
/// </summary>
/// <param name="voices">espeak-ng voice names by language code; languages not given take the defaults above.</param>
public sealed class EspeakNgSynthesizer(IReadOnlyDictionary<string, string>? voices = null) : ISpeechSynthesizer
{
    /// <summary>The longest text spoken, in characters; a reply is a sentence or two.</summary>
    public const int MaxTextChars = 400;

    /// <summary>The longest a synthesis may take before it is abandoned.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static readonly Dictionary<string, string> DefaultVoices = new(StringComparer.Ordinal) { ["en"] = "en-us", ["fa"] = "fa", ["ar"] = "ar", ["zh"] = "cmn" };

    /// <summary>The espeak-ng voice of <paramref name="language"/>.</summary>
    public string VoiceFor(string language) =>
        voices?.TryGetValue(language, out var voice) == true ? voice : DefaultVoices.TryGetValue(language, out var standard) ? standard : language;

    /// <inheritdoc />
    public async Task<SynthesizedSpeech> SynthesizeAsync(string text, string language, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(text);
        var start = new ProcessStartInfo("espeak-ng") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--stdout", "-v", VoiceFor(language), "--", text.Length > MaxTextChars ? text[..MaxTextChars] : text })
        {
            start.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("espeak-ng did not start");
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return new([], $"cannot start espeak-ng: {ex.Message} (install the espeak-ng package)");
        }

        using (process)
        using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            limit.CancelAfter(Timeout);
            using var wav = new MemoryStream();
            try
            {
                var errors = process.StandardError.ReadToEndAsync(limit.Token);
                await process.StandardOutput.BaseStream.CopyToAsync(wav, limit.Token).ConfigureAwait(false);
                await process.WaitForExitAsync(limit.Token).ConfigureAwait(false);
                if (process.ExitCode != 0)
                {
                    return new([], $"espeak-ng failed ({process.ExitCode}): {(await errors.ConfigureAwait(false)).Trim()}");
                }
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                if (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }

                return new([], $"espeak-ng took more than {Timeout.TotalSeconds:0} s");
            }

            wav.Position = 0;
            var read = AudioFile.ReadMono16k(wav);
            return read.Succeeded ? new(read.Audio!.Samples, null) : new([], $"espeak-ng's audio is unreadable: {read.Message}");
        }
    }
}
