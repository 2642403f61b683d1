using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Appliance.OtaTool;

namespace Appliance.Ota.Tests;

/// <summary>
/// <c>appliance-ota models pull</c> against a local server laid out as a model hub (its tree API and resolve URLs),
/// with Git's own blob ids for the small files and SHA-256 for the large (LFS) ones.
/// </summary>
public sealed class ModelPullTests : IAsyncDisposable
{
    private const string Repo = "forged-org/tiny-genai";
    private const string Folder = "cpu-int4";
    private readonly string _work = Directory.CreateTempSubdirectory("model-pull-").FullName;
    private readonly Dictionary<string, byte[]> _files = new()
    {
        ["genai_config.json"] = "{\"model\": {\"type\": \"qwen2\"}}"u8.ToArray(),
        ["tokenizer.json"] = RandomNumberGenerator.GetBytes(2_000),
        ["model.onnx"] = RandomNumberGenerator.GetBytes(50_000),
        ["model.onnx.data"] = RandomNumberGenerator.GetBytes(400_000),
    };

    private RepositoryServer? _server;

    private Func<HttpListenerContext, Func<Stream?, Task>, Task>? Fault { get; set; }

    private string Output => Path.Combine(_work, "out");

    [Fact]
    public async Task A_folder_is_listed_by_the_hub_api_and_every_file_arrives_verified()
    {
        await StartHubAsync();

        var (code, text) = await PullAsync();

        Assert.True(code == 0, text);
        Assert.Contains("4 file(s) downloaded, 0 already there and verified, 0 failed", text, StringComparison.Ordinal);
        AssertSameFiles();
    }

    [Fact]
    public async Task A_listing_in_pages_is_followed_to_its_last_page()
    {
        await StartHubAsync(pages: 2);

        var (code, text) = await PullAsync();

        Assert.True(code == 0, text);
        Assert.Contains("4 file(s) downloaded", text, StringComparison.Ordinal);
        AssertSameFiles();
    }

    [Fact]
    public async Task An_interrupted_download_resumes_with_a_range_request()
    {
        await StartHubAsync();
        var ranges = new List<string>();
        var cut = true;
        Fault = async (context, serve) =>
        {
            if (!context.Request.Url!.AbsolutePath.EndsWith("/model.onnx.data", StringComparison.Ordinal))
            {
                await serve(null);
                return;
            }

            ranges.Add(context.Request.Headers["Range"] ?? "");
            if (cut)
            {
                cut = false;
                context.Response.ContentLength64 = _files["model.onnx.data"].Length;
                await context.Response.OutputStream.WriteAsync(_files["model.onnx.data"].AsMemory(0, 150_000));
                await context.Response.OutputStream.FlushAsync();
                context.Response.Abort();
                return;
            }

            await serve(null);
        };

        var (firstCode, first) = await PullAsync();
        Assert.Equal(1, firstCode);
        Assert.Contains("model.onnx.data", first, StringComparison.Ordinal);
        var kept = new FileInfo(Path.Combine(Output, "model.onnx.data.part")).Length;
        Assert.InRange(kept, 1, 150_000);

        var (secondCode, second) = await PullAsync();
        Assert.True(secondCode == 0, second);
        Assert.Contains("1 file(s) downloaded, 3 already there and verified", second, StringComparison.Ordinal);
        Assert.Equal(["", $"bytes={kept}-"], ranges);
        AssertSameFiles();
    }

    [Fact]
    public async Task A_damaged_local_file_is_fetched_again_and_a_file_that_does_not_match_its_listing_is_refused()
    {
        await StartHubAsync();
        Assert.Equal(0, (await PullAsync()).Code);
        var damaged = Path.Combine(Output, "tokenizer.json");
        var bytes = File.ReadAllBytes(damaged);
        bytes[10] ^= 0xFF;
        File.WriteAllBytes(damaged, bytes);

        var (code, text) = await PullAsync();
        Assert.True(code == 0, text);
        Assert.Contains("1 file(s) downloaded, 3 already there and verified", text, StringComparison.Ordinal);
        AssertSameFiles();

        // The hub now serves other bytes than it lists: refused, nothing false is left in place.
        File.Delete(Path.Combine(Output, "model.onnx"));
        File.WriteAllBytes(Path.Combine(_work, "hub", Repo, "resolve", "main", Folder, "model.onnx"), RandomNumberGenerator.GetBytes(50_000));
        var (badCode, bad) = await PullAsync();
        Assert.Equal(1, badCode);
        Assert.Contains("model.onnx: resolve", bad.Replace(Repo + "/", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("the expected one is", bad, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(Output, "model.onnx")));
    }

    /// <summary>Lays the files out as the hub serves them and starts the server: the listing at the tree API's path, the bytes at the resolve path.</summary>
    private async Task StartHubAsync(int pages = 1)
    {
        var hub = Path.Combine(_work, "hub");
        var listing = new JsonArray();
        foreach (var (name, bytes) in _files)
        {
            var path = Path.Combine(hub, Repo, "resolve", "main", Folder, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, bytes);
            var entry = new JsonObject { ["type"] = "file", ["path"] = $"{Folder}/{name}", ["size"] = bytes.Length, ["oid"] = GitBlobId(path) };
            if (bytes.Length > 10_000)
            {
                // As the hub lists a Git LFS file: the object's SHA-256 and size; oid is then the pointer's blob id.
                entry["size"] = 134;
                entry["lfs"] = new JsonObject { ["oid"] = Convert.ToHexStringLower(SHA256.HashData(bytes)), ["size"] = bytes.Length, ["pointerSize"] = 134 };
                entry["oid"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(20));
            }

            listing.Add(entry);
        }

        listing.Add(new JsonObject { ["type"] = "directory", ["path"] = $"{Folder}/empty", ["size"] = 0, ["oid"] = "0000000000000000000000000000000000000000" });
        var api = Path.Combine(hub, "api", "models", Repo, "tree", "main", Folder);
        Directory.CreateDirectory(Path.GetDirectoryName(api)!);
        var second = new JsonArray([.. listing.Skip(listing.Count / 2).Select(n => n!.DeepClone())]);
        File.WriteAllText(api, (pages == 1 ? listing : new JsonArray([.. listing.Take(listing.Count / 2).Select(n => n!.DeepClone())])).ToJsonString());
        File.WriteAllText(api + "-page2", second.ToJsonString());
        _server = await RepositoryServer.StartAsync(hub, IPAddress.Loopback, 0, (context, serve) =>
        {
            // The hub names the next page in a Link header (RFC 8288), as an absolute address with a cursor.
            if (pages > 1 && context.Request.Url!.AbsolutePath.EndsWith($"/tree/main/{Folder}", StringComparison.Ordinal))
            {
                context.Response.AddHeader("Link", $"<{_server!.Address}api/models/{Repo}/tree/main/{Folder}-page2?recursive=true&cursor=abc>; rel=\"next\"");
            }

            return Fault is { } fault ? fault(context, serve) : serve(null);
        });
    }

    /// <summary>The blob id Git itself gives the file (<c>git hash-object</c>), the reference for the small files' check.</summary>
    private static string GitBlobId(string path)
    {
        using var git = Process.Start(new ProcessStartInfo("git", ["hash-object", path]) { RedirectStandardOutput = true })!;
        var id = git.StandardOutput.ReadToEnd().Trim();
        git.WaitForExit();
        Assert.Equal(0, git.ExitCode);
        return id;
    }

    private Task<(int Code, string Output)> PullAsync() => Cli.RunAsync("models", "pull", Repo, "--folder", Folder, "--out", Output, "--endpoint", _server!.Address.AbsoluteUri);

    private void AssertSameFiles()
    {
        foreach (var (name, bytes) in _files)
        {
            Assert.Equal(bytes, File.ReadAllBytes(Path.Combine(Output, name)));
        }

        Assert.Empty(Directory.GetFiles(Output, "*.part"));
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_work, recursive: true);
    }
}
