namespace Appliance.Audio.Tests.Support;

/// <summary>Where the tests find the repository, the shared recordings and the reference harness.</summary>
internal static class TestPaths
{
    public const string SharedDirVariable = "APPLIANCE_SHARED_DIR";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    /// <summary>$APPLIANCE_SHARED_DIR/audio, or ../shared/audio beside the repository.</summary>
    public static string SharedAudioDirectory
    {
        get
        {
            var shared = Environment.GetEnvironmentVariable(SharedDirVariable);
            var root = string.IsNullOrEmpty(shared) ? Path.Combine(RepositoryRoot, "..", "shared") : shared;
            return Path.GetFullPath(Path.Combine(root, "audio"));
        }
    }

    /// <summary>A file of a field case (../shared/cases/CASE/NAME); fails the calling test when the shared folder is missing.</summary>
    public static string SharedCaseFile(string caseName, string name)
    {
        var path = Path.GetFullPath(Path.Combine(SharedAudioDirectory, "..", "cases", caseName, name));
        Assert.True(File.Exists(path), $"{path} is missing: the Category=Shared tests need the shared field cases (set {SharedDirVariable}).");
        return path;
    }

    public static string ReferenceDirectory => Path.Combine(RepositoryRoot, "tests", "Appliance.Audio.Tests", "reference");

    /// <summary>Fails the calling test, saying how to install it, when the transformers.js reference is missing.</summary>
    public static void RequireReference() =>
        Assert.True(
            Directory.Exists(Path.Combine(ReferenceDirectory, "node_modules", "@huggingface", "transformers")),
            $"The transformers.js reference is not installed: run ./test.sh, or npm ci --prefix {ReferenceDirectory}");

    /// <summary>A file of the shared recordings; fails the calling test when the shared folder is missing.</summary>
    public static string SharedFile(string name)
    {
        var path = Path.Combine(SharedAudioDirectory, name);
        Assert.True(File.Exists(path), $"{path} is missing: the Category=Shared tests need the shared recordings (set {SharedDirVariable}).");
        return path;
    }

    private static string FindRepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No Directory.Packages.props above {AppContext.BaseDirectory}.");
    }
}
