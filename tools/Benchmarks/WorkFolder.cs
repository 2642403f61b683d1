using Appliance.Benchmarks.Meetings;

namespace Appliance.Benchmarks;

/// <summary>The scratch folder of a benchmark or campaign run: the daemons' working directories, profiles and journals.</summary>
internal static class WorkFolder
{
    /// <summary>
    /// Runs <paramref name="run"/> in a folder of its own under <paramref name="parent"/> (or the system temporary
    /// folder), deleted afterwards; if the program is stopped meanwhile, every daemon it started is ended and the folder deleted.
    /// </summary>
    /// <returns>The run's exit code.</returns>
    public static async Task<int> RunAsync(DirectoryInfo? parent, string prefix, Func<string, Task<int>> run)
    {
        var root = Path.Combine(parent?.FullName ?? Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        using var exitGuard = new ExitGuard(() =>
        {
            BenchDaemon.KillAll();
            TryDelete(root);
        });
        try
        {
            return await run(root).ConfigureAwait(false);
        }
        finally
        {
            TryDelete(root);
        }
    }

    /// <summary>Deletes a work folder, leaving it when a daemon killed a moment ago still holds a file in it.</summary>
    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The folder is in the temporary area.
        }
    }
}
