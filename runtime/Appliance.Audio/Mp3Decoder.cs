using NLayer;

namespace Appliance.Audio;

/// <summary>
/// Reads MPEG-1/2/2.5 Layer I/II/III files with NLayer, a fully managed decoder (no Windows ACM or Media
/// Foundation), so it runs on Linux ARM boards. NLayer resynchronises past damaged frames by itself without
/// reporting them; where it gives up on damaged data instead, the audio decoded up to that point is returned as
/// truncated. <see cref="DecodedAudio.FramesSkipped"/> is therefore always 0 for MP3.
/// </summary>
internal static class Mp3Decoder
{
    public static AudioReadResult Read(Stream stream)
    {
        var samples = new List<float>();
        var channels = 0;
        var sampleRate = 0;
        var isTruncated = false;
        try
        {
            using var mpeg = new MpegFile(stream);
            channels = mpeg.Channels;
            sampleRate = mpeg.SampleRate;
            if (channels is < 1 or > 2 || sampleRate is < PcmFormat.MinSampleRate or > PcmFormat.MaxSampleRate)
            {
                return AudioReadResult.Failure(AudioFileError.InvalidHeader, $"MP3 frame header gives {channels} channel(s) at {sampleRate} Hz.");
            }

            var buffer = new float[1152 * 2 * 16];
            int read;
            while ((read = mpeg.ReadSamples(buffer.AsSpan())) > 0)
            {
                samples.AddRange(buffer.AsSpan(0, read));
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or ArgumentException or IndexOutOfRangeException)
        {
            // NLayer reports malformed input with these (IndexOutOfRange from its bit reader on damaged frames).
            if (samples.Count == 0 || channels == 0)
            {
                return AudioReadResult.Failure(AudioFileError.InvalidHeader, $"MP3 stream has no decodable frame: {e.Message}");
            }

            isTruncated = true;
        }

        var whole = samples.Count / Math.Max(channels, 1) * channels;
        if (whole == 0)
        {
            return AudioReadResult.Failure(AudioFileError.NoAudio, "MP3 stream decoded to no samples.");
        }

        return AudioReadResult.Success(new DecodedAudio(AudioContainer.Mp3, samples.GetRange(0, whole).ToArray(), sampleRate, channels, 0, isTruncated));
    }
}
