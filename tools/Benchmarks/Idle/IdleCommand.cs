using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Appliance.Benchmarks.Meetings;
using Appliance.Contracts;
using Appliance.MeetingPlayer;
using Spectre.Console;

namespace Appliance.Benchmarks.Idle;

/// <summary>
/// <c>appliance-bench idle</c>: starts the daemon (its build next to this program, and optionally published
/// executables, taking turns) on the default profile with its embedded broker on a free loopback port, and measures the
/// time from process start to the ready line, then, after it settles, resident memory (RSS, PSS, private) and CPU use
/// while idle.
/// </summary>
internal static class IdleCommand
{
    public static Command Build(string[] args)
    {
        var settle = BenchmarkCli.Positive("--settle-seconds", "Wait after ready before measuring", 10);
        var seconds = BenchmarkCli.Positive("--seconds", "Idle time over which CPU use is measured", 60);
        var starts = BenchmarkCli.Positive("--starts", "Daemon starts for the start-to-ready figure (median)", 3);
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var withModels = new Option<bool>("--with-models") { Description = "Also measure the daemon idle with tiny forged models loaded (whisper-tiny as asr, a tiny R1 as voiceLlm and summaryLlm)" };
        var published = new Option<FileInfo[]>("--published")
        {
            Description = "Also measure this published appliance-daemon executable (for example a trimmed, self-contained `dotnet publish`), its starts taking turns with this build's; repeat it to set several side by side",
        };
        var idle = new Command("idle", "Start-to-ready time, idle memory and idle CPU of the daemon on the dev-x64 profile") { settle, seconds, starts, withModels, published, markdown };
        idle.SetAction(async (parse, cancellationToken) =>
        {
            var executables = parse.GetValue(published) ?? [];
            if (executables.FirstOrDefault(f => !f.Exists) is { } missing)
            {
                await Console.Error.WriteLineAsync($"--published: {missing.FullName} does not exist.").ConfigureAwait(false);
                return 2;
            }

            var load = MachineInfo.LoadAverage();
            List<Daemon> daemons = [new("`dotnet appliance-daemon.dll` (this build)", null), .. executables.Select(file => new Daemon($"`{file.FullName}`", file.FullName))];
            for (var i = 0; i < parse.GetValue(starts); i++)
            {
                var last = i == parse.GetValue(starts) - 1;
                foreach (var daemon in daemons)
                {
                    var (ready, measured) = await RunOnceAsync(daemon.Executable, last ? parse.GetValue(settle) : 0, last ? parse.GetValue(seconds) : 0, cancellationToken).ConfigureAwait(false);
                    daemon.ReadyTimes.Add(ready);
                    daemon.Figures = measured ?? daemon.Figures;
                }
            }

            var loaded = parse.GetValue(withModels) ? await MeasureWithModelsAsync(parse.GetValue(settle), parse.GetValue(seconds), cancellationToken).ConfigureAwait(false) : null;
            // One ratio column per published daemon, named by its folder (the publish's name) when there are several, or by
            // its place on the command line where folders share a name.
            var folders = daemons.Skip(1).Select(d => Path.GetFileName(Path.GetDirectoryName(d.Executable)) ?? "").ToList();
            var byFolder = folders.All(f => f.Length > 0) && folders.Distinct(StringComparer.Ordinal).Count() == folders.Count;
            string[] header =
            [
                "figure",
                .. daemons.Count == 1 ? ["value"] : daemons.Select(d => d.Name),
                .. folders.Select((folder, i) => folders.Count == 1 ? "published / this build" : $"{(byFolder ? folder : $"published {i + 1}")} / this build"),
            ];
            var rows = new List<string[]>
            {
                Row($"start to ready, median of {parse.GetValue(starts)}", d => $"{d.MedianReadyMs:F0} ms", d => d.MedianReadyMs),
                Row("resident set (RSS)", d => $"{d.Figures!.RssKib / 1024.0:F1} MiB", d => d.Figures!.RssKib),
                Row("proportional set (PSS)", d => $"{d.Figures!.PssKib / 1024.0:F1} MiB", d => d.Figures!.PssKib),
                Row("private (clean + dirty)", d => $"{d.Figures!.PrivateKib / 1024.0:F1} MiB", d => d.Figures!.PrivateKib),
                Row($"CPU over {parse.GetValue(seconds)} s idle", d => $"{d.Figures!.CpuPercent:F2} % of one core", null),
            };
            if (loaded is not null)
            {
                rows.Add(LoadedRow("with tiny models loaded (whisper-tiny as asr, a tiny R1 as voiceLlm and summaryLlm): resident set (RSS)", $"{loaded.RssKib / 1024.0:F1} MiB"));
                rows.Add(LoadedRow($"with tiny models loaded: CPU over {parse.GetValue(seconds)} s idle", $"{loaded.CpuPercent:F2} % of one core"));
            }

            var table = new Table().AddColumns([.. header.Select(h => Markup.Escape(h))]);
            foreach (var row in rows)
            {
                table.AddRow([.. row.Select(cell => Markup.Escape(cell))]);
            }

            AnsiConsole.Write(table);
            if (parse.GetValue(markdown) is { } output)
            {
                var machine = MachineInfo.Read();
                string[] lines =
                [
                    "## Idle daemon — dev-x64 profile, embedded broker",
                    "",
                    string.Create(CultureInfo.InvariantCulture, $"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"),
                    string.Create(CultureInfo.InvariantCulture, $"- Machine: {machine}"),
                    $"- Load average (1/5/15 min) before the run: {load}",
                    $"- Daemons: {string.Join("; ", daemons.Select(d => d.Name))}{(daemons.Count > 1 ? ", their starts taking turns" : "")}",
                    $"- Command: `appliance-bench {string.Join(' ', args)}` (Release build)",
                    "",
                    "| " + string.Join(" | ", header) + " |",
                    "| --- |" + string.Concat(Enumerable.Repeat(" ---: |", header.Length - 1)),
                    .. rows.Select(row => "| " + string.Join(" | ", row) + " |"),
                    "",
                ];
                await File.WriteAllTextAsync(output.FullName, string.Join('\n', lines), cancellationToken).ConfigureAwait(false);
            }

            return 0;

            // A figure of every daemon, and each published one's over this build's where a ratio means something.
            string[] Row(string figure, Func<Daemon, string> value, Func<Daemon, double>? ratio) =>
            [
                figure,
                .. daemons.Select(value),
                .. daemons.Skip(1).Select(d => ratio is null ? "" : string.Create(CultureInfo.InvariantCulture, $"{ratio(d) / ratio(daemons[0]):F2}")),
            ];

            // The tiny models are measured on this build's daemon only: the published ones' cells and the ratios stay empty.
            string[] LoadedRow(string figure, string value) => [figure, value, .. Enumerable.Repeat("", header.Length - 2)];
        });
        return idle;
    }

    private static async Task<(double ReadyMs, Figures? Figures)> RunOnceAsync(string? executable, int settleSeconds, int idleSeconds, CancellationToken cancellationToken)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        // Each start in a folder of its own: the daemon writes its meetings there.
        var folder = Directory.CreateTempSubdirectory("appliance-idle-");
        var start = new ProcessStartInfo(executable ?? "dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = folder.FullName };
        if (executable is null)
        {
            start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll"));
        }

        start.ArgumentList.Add($"--Mqtt:Broker:Port={port}");
        using var process = new Process { StartInfo = start };
        var ready = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.IndexOf("Ready in ", StringComparison.Ordinal) is int at and >= 0)
            {
                ready.TrySetResult(double.Parse(e.Data[(at + "Ready in ".Length)..].Split(' ')[0], CultureInfo.InvariantCulture));
            }
        };
        var errors = new ConcurrentQueue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                errors.Enqueue(line);
            }
        };
        try
        {
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var exited = process.WaitForExitAsync(cancellationToken);
            if (await Task.WhenAny(ready.Task, exited).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false) != ready.Task)
            {
                throw new InvalidOperationException($"{start.FileName} exited with {process.ExitCode} before it was ready: {string.Join(" / ", errors.TakeLast(5))}");
            }

            var readyMs = await ready.Task.ConfigureAwait(false);
            if (idleSeconds == 0)
            {
                return (readyMs, null);
            }

            return (readyMs, await MeasureIdleAsync(process.Id, settleSeconds, idleSeconds, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            if (StartedAndRunning(process))
            {
                process.Kill();
                await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }

            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The daemon idle with models loaded: tiny forged ones (whisper-tiny as <c>asr</c>, a tiny R1 as <c>voiceLlm</c> and
    /// <c>summaryLlm</c>), loaded and settled, then left alone for <paramref name="idleSeconds"/>: its resident set and
    /// CPU. The sessions' thread pools are made; an idle one that spun would show here.
    /// </summary>
    private static async Task<Figures> MeasureWithModelsAsync(int settleSeconds, int idleSeconds, CancellationToken cancellationToken)
    {
        Figures? figures = null;
        await WorkFolder.RunAsync(null, "appliance-idle-", async root =>
        {
            const string DeviceId = "idle-hub";
            var profile = BenchProfiles.Write(BenchProfiles.TinyModels(root, out _), root, "idle-profile");
            await using var daemon = await BenchDaemon.StartAsync(profile, DeviceId, Path.Combine(root, "daemon"), TimeSpan.FromSeconds(120), cancellationToken).ConfigureAwait(false);
            await using (var client = await ApplianceClient.ConnectAsync(new ApplianceClientOptions { Host = "127.0.0.1", Port = daemon.Port, DeviceId = DeviceId }, cancellationToken).ConfigureAwait(false))
            {
                await DaemonModels.WaitSettledAsync(client, [ModelFeatures.Asr, ModelFeatures.SummaryLlm, ModelFeatures.VoiceLlm], TimeSpan.FromMinutes(2), cancellationToken).ConfigureAwait(false);
            }

            figures = await MeasureIdleAsync(daemon.ProcessId, settleSeconds, idleSeconds, cancellationToken).ConfigureAwait(false);
            return 0;
        }).ConfigureAwait(false);
        return figures!;
    }

    /// <summary>After <paramref name="settleSeconds"/>, the process's CPU over <paramref name="idleSeconds"/> and then its memory (<c>smaps_rollup</c>).</summary>
    private static async Task<Figures> MeasureIdleAsync(int processId, int settleSeconds, int idleSeconds, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(settleSeconds), cancellationToken).ConfigureAwait(false);
        var cpuBefore = ProcessFigures.CpuTicks(processId);
        await Task.Delay(TimeSpan.FromSeconds(idleSeconds), cancellationToken).ConfigureAwait(false);
        var cpuAfter = ProcessFigures.CpuTicks(processId);
        var rollup = File.ReadLines($"/proc/{processId}/smaps_rollup").Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0].Trim(), p => long.TryParse(p[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture, out var v) ? v : 0);
        return new Figures(
            rollup["Rss"],
            rollup["Pss"],
            rollup["Private_Clean"] + rollup["Private_Dirty"],
            ProcessFigures.CpuPercent(cpuBefore, cpuAfter, TimeSpan.FromSeconds(idleSeconds)));
    }

    private static bool StartedAndRunning(Process process)
    {
        try
        {
            return !process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return false; // never started
        }
    }

    private sealed record Figures(long RssKib, long PssKib, long PrivateKib, double CpuPercent);

    /// <summary>A daemon measured: its name in the tables, the executable (null: this build's through <c>dotnet</c>), and what was measured.</summary>
    private sealed class Daemon(string name, string? executable)
    {
        public string Name { get; } = name;

        public string? Executable { get; } = executable;

        public List<double> ReadyTimes { get; } = [];

        public Figures? Figures { get; set; }

        public double MedianReadyMs => ReadyTimes.Order().ElementAt(ReadyTimes.Count / 2);
    }
}
