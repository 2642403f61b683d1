using System.Globalization;
using System.Runtime.Versioning;

namespace Appliance.Benchmarks.Tests;

/// <summary>Runs <c>appliance-bench idle --published</c> end to end: this build's daemon and a published executable, side by side.</summary>
public sealed class IdleBenchmarkTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("bench-idle-").FullName;

    [Fact]
    public async Task A_published_daemon_is_measured_beside_this_build_with_the_ratios()
    {
        var markdown = Path.Combine(_root, "idle.md");
        // The build's own launcher stands in for a published daemon: a native executable that starts the same daemon.
        var published = Path.Combine(AppContext.BaseDirectory, "appliance-daemon");

        var exitCode = await BenchmarkCli.InvokeAsync(["idle", "--starts", "1", "--settle-seconds", "1", "--seconds", "1", "--published", published, "--markdown", markdown]);

        Assert.Equal(0, exitCode);
        var lines = (await File.ReadAllTextAsync(markdown)).Split('\n');
        Assert.Contains(lines, l => l == $"| figure | `dotnet appliance-daemon.dll` (this build) | `{published}` | published / this build |");
        foreach (var figure in new[] { "start to ready, median of 1", "resident set (RSS)", "proportional set (PSS)", "private (clean + dirty)" })
        {
            var cells = Assert.Single(lines, l => l.StartsWith($"| {figure} |", StringComparison.Ordinal)).Split('|', StringSplitOptions.TrimEntries);
            Assert.All(cells[2..4], cell => Assert.True(double.Parse(cell.Split(' ')[0], CultureInfo.InvariantCulture) > 0, figure));
            Assert.True(double.Parse(cells[4], CultureInfo.InvariantCulture) > 0, figure);
        }
    }

    /// <summary>Two publishes side by side (a publish before and after a change): each gets its ratio column, named by its folder.</summary>
    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task Several_published_daemons_each_get_a_ratio_column_named_by_their_folder()
    {
        var markdown = Path.Combine(_root, "idle.md");
        // The build's launcher under two folder names: it finds its daemon where the link points.
        var launcher = Path.Combine(AppContext.BaseDirectory, "appliance-daemon");
        string[] names = ["native-before", "native-after"];
        var published = names.Select(name =>
        {
            var link = Path.Combine(Directory.CreateDirectory(Path.Combine(_root, name)).FullName, "appliance-daemon");
            File.CreateSymbolicLink(link, launcher);
            return link;
        }).ToList();

        var exitCode = await BenchmarkCli.InvokeAsync(["idle", "--starts", "1", "--settle-seconds", "1", "--seconds", "1", "--published", published[0], "--published", published[1], "--markdown", markdown]);

        Assert.Equal(0, exitCode);
        var lines = (await File.ReadAllTextAsync(markdown)).Split('\n');
        Assert.Contains(lines, l => l == $"| figure | `dotnet appliance-daemon.dll` (this build) | `{published[0]}` | `{published[1]}` | native-before / this build | native-after / this build |");
        var cells = Assert.Single(lines, l => l.StartsWith("| resident set (RSS) |", StringComparison.Ordinal)).Split('|', StringSplitOptions.TrimEntries);
        var rss = cells[2..5].Select(cell => double.Parse(cell.Split(' ')[0], CultureInfo.InvariantCulture)).ToList();
        Assert.All(rss, value => Assert.True(value > 0));
        // Each ratio is its own daemon's figure over this build's (the cells are rounded: MiB to 0.1, ratios to 0.01).
        for (var i = 1; i <= 2; i++)
        {
            Assert.Equal(rss[i] / rss[0], double.Parse(cells[4 + i], CultureInfo.InvariantCulture), 0.01);
        }
    }

    [Fact]
    public async Task This_build_alone_with_models_gives_a_two_column_table()
    {
        var markdown = Path.Combine(_root, "idle.md");

        var exitCode = await BenchmarkCli.InvokeAsync(["idle", "--starts", "1", "--settle-seconds", "1", "--seconds", "1", "--with-models", "--markdown", markdown]);

        Assert.Equal(0, exitCode);
        var table = (await File.ReadAllTextAsync(markdown)).Split('\n').Where(l => l.StartsWith('|')).ToList();
        Assert.Equal("| figure | value |", table[0]);
        Assert.Equal(9, table.Count); // header, rule, five figures, two with the tiny models
        Assert.All(table, row => Assert.Equal(3, row.Count(c => c == '|')));
    }

    [Fact]
    [SupportedOSPlatform("linux")] // the daemon, like its benchmarks, runs on Linux boards
    public async Task A_published_daemon_that_exits_before_it_is_ready_fails_with_its_reason()
    {
        var script = Path.Combine(_root, "broken-daemon");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho 'no profile here' >&2\nexit 3\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var errors = new StringWriter();
        var console = Console.Error;
        Console.SetError(errors); // the tests here run one at a time (TestOrder.cs)
        int exitCode;
        try
        {
            exitCode = await BenchmarkCli.InvokeAsync(["idle", "--starts", "1", "--settle-seconds", "1", "--seconds", "1", "--published", script]);
        }
        finally
        {
            Console.SetError(console);
        }

        Assert.NotEqual(0, exitCode);
        Assert.Contains("exited with 3 before it was ready: no profile here", errors.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_published_daemon_that_does_not_exist_is_refused()
    {
        var exitCode = await BenchmarkCli.InvokeAsync(["idle", "--starts", "1", "--published", Path.Combine(_root, "missing")]);

        Assert.Equal(2, exitCode);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);
}
