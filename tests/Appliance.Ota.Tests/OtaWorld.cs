using System.Net;
using System.Security.Cryptography;
using Appliance.Ota;
using Appliance.OtaTool;

namespace Appliance.Ota.Tests;

/// <summary>
/// A repository with its keys on the disk, served over HTTP on loopback by the technician tool's server, and devices
/// that update from it. <see cref="Fault"/> lets a test play a bad mirror. Everything lives in a temporary folder
/// deleted at the end.
/// </summary>
internal sealed class OtaWorld : IAsyncDisposable
{
    private readonly List<IDisposable> _owned = [];
    private RepositoryServer? _server;

    private OtaWorld(string directory, int targetsThreshold)
    {
        Directory = directory;
        Repository = new OtaRepository(Path.Combine(directory, "repo"), TimeProvider.System);
        Root = Own(SigningKey.Generate());
        TargetsKeys = [Own(SigningKey.Generate()), Own(SigningKey.Generate())];
        Snapshot = Own(SigningKey.Generate());
        Timestamp = Own(SigningKey.Generate());
        TargetsThreshold = targetsThreshold;
        Repository.Init(Roles(Timestamp), AllKeys);
    }

    public string Directory { get; }

    public OtaRepository Repository { get; }

    public SigningKey Root { get; }

    /// <summary>Two targets keys; the threshold is <see cref="TargetsThreshold"/>.</summary>
    public IReadOnlyList<SigningKey> TargetsKeys { get; }

    public int TargetsThreshold { get; }

    public SigningKey Snapshot { get; }

    public SigningKey Timestamp { get; private set; }

    public IReadOnlyCollection<SigningKey> AllKeys => [Root, .. TargetsKeys, Snapshot, Timestamp];

    /// <summary>Runs before the file is served on every request while set: a bad mirror. It answers itself, or calls the second argument to serve the file.</summary>
    public Func<HttpListenerContext, Func<Stream?, Task>, Task>? Fault { get; set; }

    public Uri Address => _server!.Address;

    public static async Task<OtaWorld> CreateAsync(int targetsThreshold = 1)
    {
        var directory = Path.Combine(Path.GetTempPath(), "ota-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        var world = new OtaWorld(directory, targetsThreshold);
        world._server = await RepositoryServer.StartAsync(world.Repository.Directory, IPAddress.Loopback, 0, (context, serve) => world.Fault is { } fault ? fault(context, serve) : serve(null));
        return world;
    }

    /// <summary>Root metadata roles with this world's keys, the timestamp role held by <paramref name="timestamp"/>.</summary>
    public Dictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> Roles(SigningKey timestamp) => new()
    {
        [Ota.Roles.Root] = ([Root.Public], 1),
        [Ota.Roles.Targets] = ([.. TargetsKeys.Select(k => k.Public)], TargetsThreshold),
        [Ota.Roles.Snapshot] = ([Snapshot.Public], 1),
        [Ota.Roles.Timestamp] = ([timestamp.Public], 1),
    };

    /// <summary>Replaces the timestamp key by a new one in the next root version, signed by the root key, and signs the other roles again under it.</summary>
    public SigningKey RotateTimestampKey()
    {
        var fresh = Own(SigningKey.Generate());
        Repository.RotateRoot(Roles(fresh), [Root, .. TargetsKeys, Snapshot, fresh]);
        Timestamp = fresh;
        return fresh;
    }

    /// <summary>A model folder with <paramref name="files"/> files of random bytes, <paramref name="bytes"/> each.</summary>
    public string ModelFolder(string name, int bytes = 4096, int files = 2)
    {
        var folder = Path.Combine(Directory, "models", name);
        System.IO.Directory.CreateDirectory(folder);
        for (var i = 0; i < files; i++)
        {
            File.WriteAllBytes(Path.Combine(folder, $"part{i}.onnx"), RandomNumberGenerator.GetBytes(bytes));
        }

        return folder;
    }

    /// <summary>Packs one model per feature and publishes them as bundle <paramref name="bundle"/>, signed with every key.</summary>
    public IReadOnlyList<string> Release(string bundle, int release, IEnumerable<(string Feature, string Folder)> models, IReadOnlyList<string>? socs = null)
    {
        var targets = Repository.Targets;
        var files = new Dictionary<string, TargetFile>(targets.Targets);
        var members = new List<string>();
        foreach (var (feature, folder) in models)
        {
            var (path, file) = Repository.Pack(folder, new ModelTarget { Feature = feature, ModelId = Path.GetFileName(folder), Release = release, Socs = socs ?? [] });
            files[path] = file;
            members.Add(path);
        }

        var bundles = new Dictionary<string, Bundle>(targets.Bundles) { [bundle] = new Bundle { Release = release, Targets = members } };
        Repository.Publish(targets with { Targets = files, Bundles = bundles }, AllKeys);
        return members;
    }

    /// <summary>A device provisioned with root version 1, with its own OTA folder.</summary>
    public OtaUpdater Device(string name, ISmokeTest smokeTest, string soc = "x86-64 PC", FetchLimits? limits = null)
    {
        var root = Path.Combine(Directory, "devices", name);
        System.IO.Directory.CreateDirectory(root);
        var initial = Path.Combine(root, "initial-root.json");
        if (!File.Exists(initial))
        {
            File.Copy(Path.Combine(Repository.Directory, Ota.Roles.RootFileName(1)), initial);
        }

        var http = Own(new HttpClient());
        var options = new OtaUpdaterOptions { Root = root, Repository = Address, InitialRoot = initial, Limits = limits ?? new FetchLimits() };
        return Own(new OtaUpdater(options, new DeviceIdentity("dev-x64", soc, "1.0.0"), new SlotStore(Path.Combine(root, "slots-store"), TimeProvider.System), smokeTest, http, TimeProvider.System));
    }

    private T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        foreach (var item in _owned)
        {
            item.Dispose();
        }

        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>The smoke test's seam played by the test: it records what it was asked and answers as told.</summary>
internal sealed class ScriptedSmokeTest(Func<string, ModelTarget, string?>? verdict = null) : ISmokeTest
{
    public List<string> Tested { get; } = [];

    public Task<string?> RunAsync(string path, ModelTarget target, CancellationToken cancellationToken)
    {
        Tested.Add(path);
        return Task.FromResult(verdict?.Invoke(path, target));
    }
}
