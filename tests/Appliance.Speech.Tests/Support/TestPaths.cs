namespace Appliance.Speech.Tests.Support;

/// <summary>Where the tests find the repository, the shared folder and the Node reference folder.</summary>
internal static class TestPaths
{
    public const string SharedDirVariable = "APPLIANCE_SHARED_DIR";

    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ReferenceDirectory => Path.Combine(RepositoryRoot, "tests", "Appliance.Speech.Tests", "reference");

    /// <summary>$APPLIANCE_SHARED_DIR, or ../shared beside the repository.</summary>
    public static string SharedDirectory
    {
        get
        {
            var shared = Environment.GetEnvironmentVariable(SharedDirVariable);
            return Path.GetFullPath(string.IsNullOrEmpty(shared) ? Path.Combine(RepositoryRoot, "..", "shared") : shared);
        }
    }

    /// <summary>A file or folder of the shared folder; fails the calling test when it is missing.</summary>
    public static string Shared(string relative)
    {
        var path = Path.Combine(SharedDirectory, relative);
        Assert.True(File.Exists(path) || Directory.Exists(path), $"{path} is missing: the Category=Shared tests need the shared folder (set {SharedDirVariable}).");
        return path;
    }

    /// <summary>A path inside reference/node_modules; fails the calling test, saying how to install, when it is missing.</summary>
    public static string NodeModule(string relative)
    {
        var path = Path.Combine(ReferenceDirectory, "node_modules", relative);
        Assert.True(
            File.Exists(path) || Directory.Exists(path),
            $"{path} is missing: run ./test.sh, or npm ci --ignore-scripts --prefix {ReferenceDirectory}");
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
