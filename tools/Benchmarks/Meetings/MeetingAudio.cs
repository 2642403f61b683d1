using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using Appliance.Audio;
using Appliance.MeetingPlayer;

namespace Appliance.Benchmarks.Meetings;

/// <summary>A recording for the meetings benchmark, 16 kHz mono, and where it came from.</summary>
/// <param name="Samples">The audio, samples in [-1, 1].</param>
/// <param name="Source">What it is, for the report: a file name, or the sentence espeak-ng said.</param>
internal sealed record MeetingAudio(float[] Samples, string Source)
{
    /// <summary>Frame length on the wire, as earbuds send Opus.</summary>
    public const int FrameMs = 20;

    /// <summary>Frames per second at <see cref="FrameMs"/>.</summary>
    public const int FramesPerSecond = 1000 / FrameMs;

    /// <summary>Rate of the frames on the wire.</summary>
    public const int SampleRate = SpeechAudio.SampleRate;

    private const string SpokenText =
        "Good morning everyone. Let us start with the status of the fridge firmware. Ana finished the door sensor " +
        "driver on Monday, and Ben will test it on the new boards by Friday. The open question is whether the ice " +
        "maker needs its own watchdog. We decided to ship the energy report in the next release.";

    public TimeSpan Duration => TimeSpan.FromSeconds(Samples.Length / (double)SampleRate);

    /// <summary>The default recording: the 120 s TED talk in ../shared/audio next to the repository.</summary>
    public static string DefaultPath => Path.Combine(BenchmarkCli.RepositoryRoot(), "..", "shared", "audio", "tedlium_long_120s.wav");

    /// <summary>
    /// Reads <paramref name="file"/> (any format <see cref="AudioFile"/> reads), else the default recording when it is
    /// there, else speech said by espeak-ng into <paramref name="scratchFolder"/>.
    /// </summary>
    /// <returns>The audio, or null with the reason in <paramref name="problem"/>.</returns>
    public static MeetingAudio? Load(FileInfo? file, string scratchFolder, out string? problem)
    {
        var path = file?.FullName ?? (File.Exists(DefaultPath) ? Path.GetFullPath(DefaultPath) : null);
        if (path is null)
        {
            return Spoken(scratchFolder, out problem);
        }

        var read = AudioFile.ReadMono16k(path);
        if (read.Audio is not { Samples.Length: > 0 } audio)
        {
            problem = $"Cannot use {path}: {read.Error} {read.Message}".TrimEnd();
            return null;
        }

        problem = null;
        return new MeetingAudio(audio.Samples, Path.GetFileName(path));
    }

    /// <summary>This audio repeated (and cut) to <paramref name="length"/>.</summary>
    public float[] Looped(TimeSpan length)
    {
        var samples = new float[checked((int)(length.TotalSeconds * SampleRate))];
        for (var offset = 0; offset < samples.Length; offset += Samples.Length)
        {
            Samples.AsSpan(0, Math.Min(Samples.Length, samples.Length - offset)).CopyTo(samples.AsSpan(offset));
        }

        return samples;
    }

    /// <summary>
    /// Encodes the whole recording once into 20 ms Opus packets at 16 kHz with the meeting player's encoder (the last
    /// frame padded with silence), in sequence order as earbuds do.
    /// </summary>
    public IReadOnlyList<byte[]> OpusFrames()
    {
        using var encoder = new FrameEncoder(MeetingCodec.Opus, SampleRate, FrameMs);
        var count = (Samples.Length + encoder.SamplesPerFrame - 1) / encoder.SamplesPerFrame;
        var frames = new List<byte[]>(count);
        var frame = new float[encoder.SamplesPerFrame];
        for (var i = 0; i < count; i++)
        {
            var offset = i * encoder.SamplesPerFrame;
            var length = Math.Min(frame.Length, Samples.Length - offset);
            Samples.AsSpan(offset, length).CopyTo(frame);
            frame.AsSpan(length).Clear();
            frames.Add(encoder.Encode(frame));
        }

        return frames;
    }

    private static MeetingAudio? Spoken(string scratchFolder, out string? problem)
    {
        Directory.CreateDirectory(scratchFolder);
        var clip = Path.Combine(scratchFolder, "spoken-meeting.wav");
        var start = new ProcessStartInfo("espeak-ng") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-v", "en-us", "-s", "160", "-w", clip, SpokenText })
        {
            start.ArgumentList.Add(arg);
        }

        try
        {
            using var process = Process.Start(start)!;
            var errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                problem = $"espeak-ng failed ({process.ExitCode.ToString(CultureInfo.InvariantCulture)}): {errors}";
                return null;
            }
        }
        catch (Win32Exception)
        {
            problem = $"{DefaultPath} is missing and espeak-ng is not installed (apt-get install espeak-ng), so there is no audio; give one with --audio.";
            return null;
        }

        var read = AudioFile.ReadMono16k(clip);
        problem = read.Audio is null ? $"espeak-ng wrote no readable audio: {read.Error} {read.Message}" : null;
        return read.Audio is { } audio ? new MeetingAudio(audio.Samples, "speech by espeak-ng (en-us, 160 words/min)") : null;
    }
}
