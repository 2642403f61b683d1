namespace Appliance.Ota.Tests;

/// <summary><c>appliance-ota rotate-root</c>: the next root version, signed by the old root's keys and the new ones.</summary>
public sealed class RotateRootTests : IDisposable
{
    private readonly string _work = Directory.CreateTempSubdirectory("rotate-root-").FullName;

    [Fact]
    public async Task A_new_root_is_signed_by_the_old_root_key_and_a_root_key_swap_without_it_is_refused()
    {
        foreach (var name in (string[])["root", "root2", "targets", "snapshot", "timestamp", "timestamp2"])
        {
            Assert.Equal(0, (await Cli.RunAsync("keygen", "--out", Key(name))).Code);
        }

        var repo = Path.Combine(_work, "repo");
        Assert.Equal(0, (await Cli.RunAsync("init", "--repo", repo, "--role-key", $"root={Key("root")}", $"targets={Key("targets")}", $"snapshot={Key("snapshot")}", $"timestamp={Key("timestamp")}")).Code);

        var (code, output) = await Cli.RunAsync("rotate-root", "--repo", repo, "--role-key", $"root={Key("root")}", $"targets={Key("targets")}", $"snapshot={Key("snapshot")}", $"timestamp={Key("timestamp2")}");
        Assert.True(code == 0, output);
        Assert.Contains("root version 2 signed", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(repo, "2.root.json")));
        var repository = new OtaRepository(repo, TimeProvider.System);
        Assert.Equal(2, repository.Root.Version);
        using (var timestamp2 = SigningKey.Load(Key("timestamp2")))
        {
            Assert.Equal([timestamp2.KeyId], repository.Root.Roles["timestamp"].KeyIds);
        }

        var (refused, why) = await Cli.RunAsync("rotate-root", "--repo", repo, "--role-key", $"root={Key("root2")}", $"targets={Key("targets")}", $"snapshot={Key("snapshot")}", $"timestamp={Key("timestamp2")}");
        Assert.Equal(1, refused);
        Assert.Contains("the root role of root version 2 needs 1 of its 1 key(s)", why, StringComparison.Ordinal);
        Assert.Contains("0 of the 4 key(s) given are among them: add --key with the role's key files", why, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(repo, "3.root.json")));
    }

    private string Key(string name) => Path.Combine(_work, name + ".key");

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
