using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Appliance.Ota;

/// <summary>The limits a device puts on what a repository mirror sends; the defaults suit a board on home Wi-Fi.</summary>
public sealed record FetchLimits
{
    /// <summary>The cap of a root metadata file, in bytes (a chain of rotations fetches each one).</summary>
    public long RootMaxBytes { get; init; } = 512 * 1024;

    /// <summary>The cap of timestamp.json, in bytes.</summary>
    public long TimestampMaxBytes { get; init; } = 16 * 1024;

    /// <summary>The cap of snapshot.json when the timestamp gives no length, in bytes.</summary>
    public long SnapshotMaxBytes { get; init; } = 64 * 1024;

    /// <summary>The cap of targets.json when the snapshot gives no length, in bytes.</summary>
    public long TargetsMaxBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>The lowest rate a mirror may keep over a <see cref="SpeedWindow"/>, in bytes per second (slow-retrieval guard).</summary>
    public double MinBytesPerSecond { get; init; } = 16 * 1024;

    /// <summary>The span over which the rate is measured; a read that gets nothing for this long fails too.</summary>
    public TimeSpan SpeedWindow { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>Progress of one download.</summary>
/// <param name="File">The target's path in the repository.</param>
/// <param name="Bytes">Bytes on the disk so far, including those of an earlier, interrupted attempt.</param>
/// <param name="Total">The target's signed length, in bytes.</param>
/// <param name="BytesPerSecond">The rate since this attempt began.</param>
public sealed record FetchProgress(string File, long Bytes, long Total, double BytesPerSecond);

/// <summary>What a downloaded file must hash to.</summary>
/// <param name="Algorithm"><c>sha256</c> (a TUF target, a Git LFS object), or <c>git-sha1</c> (a Git blob id: SHA-1 of <c>blob {length}\0</c> and the content).</param>
/// <param name="Hex">The expected digest in hex.</param>
public sealed record FileDigest(string Algorithm, string Hex)
{
    /// <summary>A SHA-256 digest.</summary>
    public static FileDigest Sha256(string hex) => new("sha256", hex);

    /// <summary>A Git blob id.</summary>
    public static FileDigest GitBlob(string hex) => new("git-sha1", hex);

    /// <summary>The digest of the file at <paramref name="path"/> by this algorithm, lowercase hex.</summary>
    public async Task<string> ComputeAsync(string path, CancellationToken cancellationToken)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            if (Algorithm == "sha256")
            {
                return OtaKeys.Hex(await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false));
            }

            using var sha1 = IncrementalHash.CreateHash(HashAlgorithmName.SHA1);
            sha1.AppendData(System.Text.Encoding.ASCII.GetBytes($"blob {stream.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)}\0"));
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                sha1.AppendData(buffer, 0, read);
            }

            return OtaKeys.Hex(sha1.GetHashAndReset());
        }
    }
}

/// <summary>
/// Reads files over HTTP(S) from any static server: small files under a byte cap, large ones with range requests that
/// resume a partial download, a hard length limit, a minimum rate, and a digest check. Inside this library every
/// refusal is an <see cref="OtaRefusedException"/>; <see cref="TryDownloadAsync"/> returns it as a value. Thread-safe;
/// the caller owns the <see cref="HttpClient"/>.
/// </summary>
public sealed class RepositoryFetcher(HttpClient http, Uri baseUri, TimeProvider time, FetchLimits limits)
{
    private const int BufferBytes = 64 * 1024;

    /// <summary>The absolute address of <paramref name="path"/>, for messages.</summary>
    public Uri AddressOf(string path) => new(baseUri, path);

    /// <summary>The limits of every transfer.</summary>
    public FetchLimits Limits => limits;

    /// <summary>
    /// <see cref="DownloadAsync"/> with the refusal as a value: null when <paramref name="partPath"/> holds the whole,
    /// verified file.
    /// </summary>
    public async Task<OtaRefusal?> TryDownloadAsync(string path, string partPath, long length, FileDigest digest, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        try
        {
            await DownloadAsync(path, partPath, length, digest, progress, cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (OtaRefusedException e)
        {
            return e.Refusal;
        }
    }

    /// <summary>
    /// A small file (a listing page) at most <paramref name="maxBytes"/> long, with the address of the next page when
    /// the server gives one (<c>Link: &lt;…&gt;; rel="next"</c>, RFC 8288); bytes null when the server has no such file (404).
    /// </summary>
    /// <param name="path">Relative to the base address, or an absolute address (a next page).</param>
    /// <param name="maxBytes">The cap; a longer answer is refused as too large.</param>
    /// <param name="cancellationToken">Stops the request.</param>
    public async Task<(byte[]? Bytes, string? Next, OtaRefusal? Refusal)> TryGetAsync(string path, long maxBytes, CancellationToken cancellationToken)
    {
        try
        {
            var (bytes, next) = await PageAsync(path, maxBytes, cancellationToken).ConfigureAwait(false);
            return (bytes, next, null);
        }
        catch (OtaRefusedException e)
        {
            return (null, null, e.Refusal);
        }
    }

    /// <summary>A metadata file at most <paramref name="maxBytes"/> long, or null when the server has no such file (404).</summary>
    internal async Task<byte[]?> MetadataAsync(string name, long maxBytes, CancellationToken cancellationToken) =>
        (await PageAsync(name, maxBytes, cancellationToken).ConfigureAwait(false)).Bytes;

    private async Task<(byte[]? Bytes, string? Next)> PageAsync(string name, long maxBytes, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(name, from: 0, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return (null, null);
        }

        Require(response, name);
        if (response.Content.Headers.ContentLength is long declared && declared > maxBytes)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.TooLarge, $"{name}: the server declares {declared} bytes, more than the {maxBytes} allowed");
        }

        using var memory = new MemoryStream();
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            await CopyAsync(stream, memory, name, 0, maxBytes, null, cancellationToken).ConfigureAwait(false);
        }

        var next = response.Headers.TryGetValues("Link", out var links)
            ? links.SelectMany(l => l.Split(',')).Select(l => l.Trim()).FirstOrDefault(l => l.EndsWith("rel=\"next\"", StringComparison.Ordinal) && l.StartsWith('<') && l.Contains('>', StringComparison.Ordinal)) is { } link
                ? link[1..link.IndexOf('>', StringComparison.Ordinal)]
                : null
            : null;
        return (memory.ToArray(), next);
    }

    /// <summary>
    /// Downloads <paramref name="name"/> (relative to the base address) into <paramref name="partPath"/>, continuing
    /// from the bytes already there, until it holds exactly <paramref name="length"/> bytes of <paramref name="digest"/>.
    /// A digest or length failure deletes the partial file; an interruption or a slow mirror keeps it for the next attempt.
    /// </summary>
    internal async Task DownloadAsync(string name, string partPath, long length, FileDigest digest, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        var have = File.Exists(partPath) ? new FileInfo(partPath).Length : 0;
        if (have > length)
        {
            File.Delete(partPath);
            have = 0;
        }

        if (have < length)
        {
            using var response = await SendAsync(name, have, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(partPath);
                throw OtaRefusedException.Of(OtaRefusalCode.TooLarge, $"{name}: the server has fewer bytes than the {have} already downloaded; the partial file is dropped");
            }

            Require(response, name);
            var resumed = response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == have;
            if (!resumed)
            {
                have = 0;
            }

            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                var file = new FileStream(partPath, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferBytes);
                await using (file.ConfigureAwait(false))
                {
                    try
                    {
                        await CopyAsync(stream, file, name, have, length, p => progress?.Report(p), cancellationToken).ConfigureAwait(false);
                    }
                    catch (OtaRefusedException e) when (e.Refusal.Code == OtaRefusalCode.TooLarge)
                    {
                        await file.DisposeAsync().ConfigureAwait(false);
                        File.Delete(partPath);
                        throw;
                    }

                    file.Flush(flushToDisk: true);
                }
            }

            have = new FileInfo(partPath).Length;
            if (have < length)
            {
                throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{name}: the server ended after {have} of {length} bytes; the download resumes from there");
            }
        }

        var actual = await digest.ComputeAsync(partPath, cancellationToken).ConfigureAwait(false);
        if (!string.Equals(actual, digest.Hex, StringComparison.OrdinalIgnoreCase))
        {
            File.Delete(partPath);
            throw OtaRefusedException.Of(OtaRefusalCode.HashMismatch, $"{name}: {digest.Algorithm} {actual}, the expected one is {digest.Hex}; the file is dropped");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(string path, long from, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, path));
        if (from > 0)
        {
            request.Headers.Range = new RangeHeaderValue(from, null);
        }

        using var timeout = new CancellationTokenSource(limits.SpeedWindow, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.TooSlow, $"{path}: no answer within {limits.SpeedWindow.TotalSeconds:0.#} s");
        }
        catch (HttpRequestException e)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{path}: {e.Message}");
        }
    }

    private static void Require(HttpResponseMessage response, string path)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{path}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
        }
    }

    /// <summary>Copies until the end of <paramref name="source"/>, failing past <paramref name="limit"/> bytes in all or below the minimum rate.</summary>
    private async Task CopyAsync(Stream source, Stream destination, string path, long already, long limit, Action<FetchProgress>? report, CancellationToken cancellationToken)
    {
        var buffer = new byte[BufferBytes];
        var total = already;
        var started = time.GetTimestamp();
        var windowStart = started;
        long windowBytes = 0;
        while (true)
        {
            int read;
            using (var stall = new CancellationTokenSource(limits.SpeedWindow, time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stall.Token))
            {
                try
                {
                    read = await source.ReadAsync(buffer, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.TooSlow, $"{path}: nothing received for {limits.SpeedWindow.TotalSeconds:0.#} s after {total} bytes");
                }
                catch (IOException e)
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{path}: the transfer broke after {total} bytes ({e.Message})");
                }
                catch (HttpRequestException e)
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.Unreachable, $"{path}: the transfer broke after {total} bytes ({e.Message})");
                }
            }

            if (read == 0)
            {
                return;
            }

            if (total + read > limit)
            {
                throw OtaRefusedException.Of(OtaRefusalCode.TooLarge, $"{path}: more than the {limit} bytes allowed");
            }

            await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            total += read;
            windowBytes += read;
            var window = time.GetElapsedTime(windowStart);
            if (window >= limits.SpeedWindow)
            {
                var rate = windowBytes / window.TotalSeconds;
                if (rate < limits.MinBytesPerSecond)
                {
                    throw OtaRefusedException.Of(OtaRefusalCode.TooSlow, $"{path}: {rate:0} bytes/s over {window.TotalSeconds:0.#} s, below the {limits.MinBytesPerSecond:0} required");
                }

                windowStart = time.GetTimestamp();
                windowBytes = 0;
            }

            report?.Invoke(new FetchProgress(path, total, limit, (total - already) / Math.Max(time.GetElapsedTime(started).TotalSeconds, 1e-3)));
        }
    }
}
