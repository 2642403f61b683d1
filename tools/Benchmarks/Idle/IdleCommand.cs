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
/// <c>appliance-bench idle</c>: starts the daemon (its build next to this program) on the default profile with its
/// embedded broker on a free loopback port, and measures the time from process start to the ready line, then,
/// after it settles, resident memory (RSS, PSS, private) and CPU use while idle.
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
        var idle = new Command("idle", "Start-to-ready time, idle memory and idle CPU of the daemon on the dev-x64 profile") { settle, seconds, starts, withModels, markdown };
        idle.SetAction(async (parse, cancellationToken) =>
        {
            var load = MachineInfo.LoadAverage();
            var readyTimes = new List<double>();
            Figures? figures = null;
            for (var i = 0; i < parse.GetValue(starts); i++)
            {
                var last = i == parse.GetValue(starts) - 1;
                var (ready, measured) = await RunOnceAsync(last ? parse.GetValue(settle) : 0, last ? parse.GetValue(seconds) : 0, cancellationToken).ConfigureAwait(false);
                readyTimes.Add(ready);
                figures = measured ?? figures;
            }

            var loaded = parse.GetValue(withModels) ? await MeasureWithModelsAsync(parse.GetValue(settle), parse.GetValue(seconds), cancellationToken).ConfigureAwait(false) : null;
            readyTimes.Sort();
            var median = readyTimes[readyTimes.Count / 2];
            var table = new Table().AddColumns("figure", "value");
            table.AddRow("start to ready (median of " + readyTimes.Count.ToString(CultureInfo.InvariantCulture) + ")", $"{median:F0} ms (all: {string.Join(", ", readyTimes.Select(t => t.ToString("F0", CultureInfo.InvariantCulture)))})");
            table.AddRow("resident (RSS)", $"{figures!.RssKib / 1024.0:F1} MiB");
            table.AddRow("proportional (PSS)", $"{figures.PssKib / 1024.0:F1} MiB");
            table.AddRow("private (clean + dirty)", $"{figures.PrivateKib / 1024.0:F1} MiB");
            table.AddRow($"CPU over {parse.GetValue(seconds)} s idle", $"{figures.CpuPercent:F2} % of one core");
            if (loaded is not null)
            {
                table.AddRow("with tiny models loaded: resident (RSS)", $"{loaded.RssKib / 1024.0:F1} MiB");
                table.AddRow($"with tiny models loaded: CPU over {parse.GetValue(seconds)} s idle", $"{loaded.CpuPercent:F2} % of one core");
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
                    $"- Command: `appliance-bench {string.Join(' ', args)}` (Release build; the daemon runs as `dotnet appliance-daemon.dll`)",
                    "",
                    "| figure | value |",
                    "| --- | ---: |",
                    string.Create(CultureInfo.InvariantCulture, $"| start to ready, median of {readyTimes.Count} | {median:F0} ms |"),
                    string.Create(CultureInfo.InvariantCulture, $"| resident set (RSS) | {figures.RssKib / 1024.0:F1} MiB |"),
                    string.Create(CultureInfo.InvariantCulture, $"| proportional set (PSS) | {figures.PssKib / 1024.0:F1} MiB |"),
                    string.Create(CultureInfo.InvariantCulture, $"| private (clean + dirty) | {figures.PrivateKib / 1024.0:F1} MiB |"),
                    string.Create(CultureInfo.InvariantCulture, $"| CPU over {parse.GetValue(seconds)} s idle | {figures.CpuPercent:F2} % of one core |"),
                    .. loaded is null ? Array.Empty<string>() :
                    [
                        string.Create(CultureInfo.InvariantCulture, $"| with tiny models loaded (whisper-tiny as asr, a tiny R1 as voiceLlm and summaryLlm): resident set (RSS) | {loaded.RssKib / 1024.0:F1} MiB |"),
                        string.Create(CultureInfo.InvariantCulture, $"| with tiny models loaded: CPU over {parse.GetValue(seconds)} s idle | {loaded.CpuPercent:F2} % of one core |"),
                    ],
                    "",
                ];
                await File.WriteAllTextAsync(output.FullName, string.Join('\n', lines), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
        return idle;
    }

    private static async Task<(double ReadyMs, Figures? Figures)> RunOnceAsync(int settleSeconds, int idleSeconds, CancellationToken cancellationToken)
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "appliance-daemon.dll"));
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
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var readyMs = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken).ConfigureAwait(false);
            if (idleSeconds == 0)
            {
                return (readyMs, null);
            }

            return (readyMs, await MeasureIdleAsync(process.Id, settleSeconds, idleSeconds, cancellationToken).ConfigureAwait(false));
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
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

    private sealed record Figures(long RssKib, long PssKib, long PrivateKib, double CpuPercent);
}
