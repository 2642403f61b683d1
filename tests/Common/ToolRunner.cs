using System.Diagnostics;

namespace Appliance.Tests.Common;

/// <summary>Runs external programs (espeak-ng, sox, node, opusenc, opusdec, ffmpeg) with a time limit. Compiled into each test project that needs it.</summary>
internal static class ToolRunner
{
    public static bool IsOnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(directory => File.Exists(Path.Combine(directory, program)));

    /// <summary>Fails the calling test, naming the Debian package, when <paramref name="program"/> is not on PATH.</summary>
    public static void Require(string program, string debianPackage) =>
        Assert.True(IsOnPath(program), $"{program} is not installed: sudo apt-get install {debianPackage} (./test.sh installs it).");

    /// <summary>
    /// Runs the program, with <paramref name="standardInput"/> written to its input when given, and returns its standard
    /// output; fails the test on a non-zero exit or a time-out.
    /// </summary>
    public static string Run(string program, IEnumerable<string> arguments, string? workingDirectory = null, int timeoutSeconds = 300, string? standardInput = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardInput = standardInput is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (standardInput is not null)
        {
            process.StandardInput.Write(standardInput);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} did not finish within {timeoutSeconds} s.");
        }

        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} exited with {process.ExitCode}: {stderr.Result}");
        return stdout.Result;
    }
}
