using System.Text.Json;
using System.Text.Json.Serialization;
using Appliance.Ota;

namespace Appliance.OtaTool;

/// <summary>One file of a model repository, as the hub's tree API lists it.</summary>
/// <param name="Path">The path in the repository.</param>
/// <param name="Length">Its length in bytes.</param>
/// <param name="Digest">What it must hash to: the Git LFS object's SHA-256 for large files, else the Git blob id.</param>
internal sealed record HubFile(string Path, long Length, FileDigest Digest);

/// <summary>An entry of <c>GET /api/models/{repo}/tree/{revision}/{path}</c>.</summary>
internal sealed record HubTreeEntry(
    [property: JsonPropertyName("type")] string? Type,
    [property: JsonPropertyName("path")] string? Path,
    [property: JsonPropertyName("size")] long? Size,
    [property: JsonPropertyName("oid")] string? Oid,
    [property: JsonPropertyName("lfs")] HubLfs? Lfs);

/// <summary>The Git LFS part of a tree entry: the object's SHA-256 and length.</summary>
internal sealed record HubLfs([property: JsonPropertyName("oid")] string? Oid, [property: JsonPropertyName("size")] long? Size);

[JsonSerializable(typeof(List<HubTreeEntry>))]
internal sealed partial class HubJson : JsonSerializerContext;

/// <summary>
/// Fetches a published model folder from a model hub's HTTP layout (the Hugging Face Hub's: files listed by
/// <c>/api/models/{repo}/tree/{revision}/{folder}?recursive=true</c>, page after page, each downloaded from
/// <c>/{repo}/resolve/{revision}/{path}</c>), with range requests that resume an interrupted file, and every file
/// checked against the listed digest. A file already there whole and verified is kept; a damaged one is fetched again.
/// </summary>
internal sealed class ModelHub(HttpClient http, Uri endpoint, FetchLimits limits)
{
    private const long ListingMaxBytes = 8 * 1024 * 1024;
    private const int MaxPages = 1000;
    private readonly RepositoryFetcher _fetcher = new(http, endpoint, TimeProvider.System, limits);

    /// <summary>The files under <paramref name="folder"/> (the whole repository when empty).</summary>
    /// <returns>The files, or why they cannot be listed.</returns>
    public async Task<(IReadOnlyList<HubFile> Files, string? Problem)> ListAsync(string repo, string revision, string folder, CancellationToken cancellationToken)
    {
        // The hub lists a large folder in pages, each naming the next in its Link header.
        string? page = $"api/models/{Escape(repo)}/tree/{Uri.EscapeDataString(revision)}/{Escape(folder)}".TrimEnd('/') + "?recursive=true";
        var entries = new List<HubTreeEntry>();
        for (var pages = 0; page is not null; pages++)
        {
            if (pages == MaxPages)
            {
                return ([], $"listing {repo}@{revision}/{folder}: more than {MaxPages} pages");
            }

            var (bytes, next, refusal) = await _fetcher.TryGetAsync(page, ListingMaxBytes, cancellationToken).ConfigureAwait(false);
            if (refusal is not null)
            {
                return ([], $"listing {repo}@{revision}/{folder}: {refusal.Message}");
            }

            if (bytes is null)
            {
                return ([], $"{repo}@{revision} has no folder \"{folder}\" (404)");
            }

            try
            {
                entries.AddRange(JsonSerializer.Deserialize(bytes, HubJson.Default.ListHubTreeEntry) ?? []);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException)
            {
                return ([], $"listing {repo}@{revision}/{folder}: not a tree listing ({e.Message})");
            }

            page = next;
        }

        var files = new List<HubFile>();
        foreach (var entry in entries)
        {
            if (entry.Type != "file")
            {
                continue;
            }

            if (entry is not { Path: { Length: > 0 } file, Size: long size } || (entry.Lfs?.Oid is null && entry.Oid is null))
            {
                return ([], $"listing {repo}@{revision}/{folder}: an entry has no path, size or digest");
            }

            files.Add(new HubFile(file, entry.Lfs?.Size ?? size, entry.Lfs?.Oid is { } sha256 ? FileDigest.Sha256(sha256) : FileDigest.GitBlob(entry.Oid!)));
        }

        return (files, files.Count == 0 ? $"{repo}@{revision}/{folder} lists no files" : null);
    }

    /// <summary>Each segment of a slash-separated path, escaped for a URL.</summary>
    private static string Escape(string path) => string.Join('/', path.Split('/').Select(Uri.EscapeDataString));

    /// <summary>
    /// Brings <paramref name="file"/> into <paramref name="destination"/>: kept when it is there whole and verified,
    /// else downloaded (resuming a <c>.part</c> file) and verified, then moved into place.
    /// </summary>
    /// <returns>Whether it was downloaded (false: already there), or why it failed.</returns>
    public async Task<(bool Downloaded, string? Problem)> PullAsync(string repo, string revision, HubFile file, string destination, IProgress<FetchProgress>? progress, CancellationToken cancellationToken)
    {
        if (File.Exists(destination) && new FileInfo(destination).Length == file.Length &&
            string.Equals(await file.Digest.ComputeAsync(destination, cancellationToken).ConfigureAwait(false), file.Digest.Hex, StringComparison.OrdinalIgnoreCase))
        {
            return (false, null);
        }

        // A file there that is not the listed one goes: a failed download must not leave it looking whole.
        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
        File.Delete(destination);
        var part = destination + ".part";
        var address = $"{Escape(repo)}/resolve/{Uri.EscapeDataString(revision)}/{Escape(file.Path)}";
        if (await _fetcher.TryDownloadAsync(address, part, file.Length, file.Digest, progress, cancellationToken).ConfigureAwait(false) is { } refusal)
        {
            return (false, refusal.Message);
        }

        File.Move(part, destination, overwrite: true);
        return (true, null);
    }
}
