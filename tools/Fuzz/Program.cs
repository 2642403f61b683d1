using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Fuzz;
using Spectre.Console;

// appliance-fuzz: the fuzz targets (`run`, started by AFL++) and the campaign that runs AFL++ on them (`campaign`).
var targetName = new Argument<string>("target") { Description = "The target: " + string.Join(", ", FuzzTargets.All.Select(t => t.Name)) };
var inputFile = new Argument<FileInfo?>("input") { Description = "The file that holds each input (AFL++'s @@); standard input when left out", Arity = ArgumentArity.ZeroOrOne };
var run = new Command("run", "Runs one target under AFL++ (SharpFuzz's loop); without AFL++, runs it once on the input") { targetName, inputFile };
run.SetAction(parse =>
{
    var target = FuzzTargets.All.FirstOrDefault(t => t.Name == parse.GetValue(targetName));
    if (target is null)
    {
        Console.Error.WriteLine($"no target {parse.GetValue(targetName)}; the targets: {string.Join(", ", FuzzTargets.All.Select(t => t.Name))}");
        return 2;
    }

    // SharpFuzz copies standard input for its first execution as soon as it has greeted afl-fuzz, before afl-fuzz has
    // written the first input there: on a busy machine it read an empty input, the first seed showed no coverage and
    // afl-fuzz stopped ("No instrumentation detected"). With the input in a file (afl-fuzz's @@; standard input is then
    // /dev/null), each reported execution opens the file after afl-fuzz asked for the run, so after it was written;
    // SharpFuzz's unreported warm-up execution before that may find no file, and its failure is thrown away.
    if (parse.GetValue(inputFile) is { } file)
    {
        SharpFuzz.Fuzzer.Run(_ =>
        {
            using var input = File.OpenRead(file.FullName);
            target.Run(input);
        });
    }
    else
    {
        SharpFuzz.Fuzzer.Run(target.Run);
    }

    return 0;
});

var executions = new Option<long>("--executions") { Description = "Executions per target", DefaultValueFactory = _ => 1_000_000 };
var minutes = new Option<double>("--minutes") { Description = "Wall-clock limit per target, in minutes", DefaultValueFactory = _ => 30 };
var seed = new Option<int>("--seed") { Description = "AFL++'s random seed (-s), the same for every target", DefaultValueFactory = _ => 1 };
var only = new Option<string[]>("--targets") { Description = "The targets to run (all by default)", AllowMultipleArgumentsPerToken = true };
var findingsFolder = new Option<DirectoryInfo>("--findings") { Description = "Where crash and hang inputs are copied", DefaultValueFactory = _ => new DirectoryInfo("artifacts/fuzz-findings") };
var markdown = new Option<FileInfo?>("--markdown") { Description = "Write the results as a markdown section to this file" };
var campaign = new Command("campaign", "Fuzzes each target with AFL++ for the executions given and reports executions, paths found, crashes and hangs") { executions, minutes, seed, only, findingsFolder, markdown };
campaign.SetAction(async (parse, cancellationToken) =>
{
    var names = parse.GetValue(only) is { Length: > 0 } chosen ? chosen : [.. FuzzTargets.All.Select(t => t.Name)];
    var unknown = names.Where(n => FuzzTargets.All.All(t => t.Name != n)).ToList();
    if (unknown.Count > 0 || parse.GetValue(executions) < 1)
    {
        await Console.Error.WriteLineAsync(unknown.Count > 0 ? $"no target {string.Join(", ", unknown)}" : "--executions must be at least 1").ConfigureAwait(false);
        return 2;
    }

    var work = Directory.CreateTempSubdirectory("appliance-fuzz-").FullName;
    var results = new List<FuzzResult>();
    var startedAt = DateTime.UtcNow;
    try
    {
        foreach (var target in FuzzTargets.All.Where(t => names.Contains(t.Name)))
        {
            results.Add(await FuzzCampaign.RunAsync(target, parse.GetValue(executions), parse.GetValue(seed), TimeSpan.FromMinutes(parse.GetValue(minutes)), work, parse.GetValue(findingsFolder)!.FullName, line => AnsiConsole.MarkupLineInterpolated($"[grey]{line}[/]"), cancellationToken).ConfigureAwait(false));
        }
    }
    finally
    {
        Directory.Delete(work, recursive: true);
    }

    var table = new Table().AddColumns("target", "executions", "paths", "crashes", "hangs", "seconds", "result");
    foreach (var r in results)
    {
        table.AddRow(Markup.Escape(r.Target), Invariant($"{r.Executions}"), Invariant($"{r.Paths}"), Invariant($"{r.Crashes}"), Invariant($"{r.Hangs}"), Invariant($"{r.Seconds:0}"), Markup.Escape(Verdict(r, parse.GetValue(executions))));
    }

    AnsiConsole.Write(table);
    foreach (var finding in results.SelectMany(r => r.Findings))
    {
        AnsiConsole.MarkupLineInterpolated($"finding: {finding}");
    }

    if (parse.GetValue(markdown) is { } output)
    {
        await File.WriteAllTextAsync(output.FullName, Markdown(results, parse.GetValue(executions), parse.GetValue(seed), startedAt, string.Join(' ', args)), cancellationToken).ConfigureAwait(false);
    }

    return results.All(r => Verdict(r, parse.GetValue(executions)) == "passed") ? 0 : 1;
});

return await new RootCommand("Appliance fuzzing: SharpFuzz targets and the AFL++ campaign over them") { run, campaign }.Parse(args).InvokeAsync().ConfigureAwait(false);

static string Verdict(FuzzResult result, long asked) =>
    result.Failure is { } failure ? $"FAILED: {failure}"
    : result.Crashes > 0 || result.Hangs > 0 ? "FAILED: findings"
    : result.Executions < asked ? $"FAILED: {result.Executions} of {asked} executions"
    : "passed";

static string Markdown(IReadOnlyList<FuzzResult> results, long asked, int seed, DateTime startedAt, string command)
{
    var text = new StringBuilder();
    text.AppendLine("## Fuzzing — AFL++ with SharpFuzz on the daemon's parsers");
    text.AppendLine();
    text.AppendLine(Invariant($"- Date: {startedAt:yyyy-MM-dd HH:mm} UTC"));
    text.AppendLine(Invariant($"- Machine: {Environment.ProcessorCount} cores; {RuntimeInformation.OSDescription}; {RuntimeInformation.FrameworkDescription}"));
    text.AppendLine(Invariant($"- Set-up: AFL++ (`afl-fuzz`, Debian's `afl++`) on each target in turn, one core, {asked} executions each (random seed {seed}), 5 s per input before it counts as a hang; the target's assemblies instrumented by SharpFuzz; seeds from `tools/Fuzz/corpus/`"));
    foreach (var target in FuzzTargets.All.Where(t => results.Any(r => r.Target == t.Name)))
    {
        text.AppendLine($"- `{target.Name}`: {target.Description}");
    }

    text.AppendLine($"- Command: `appliance-fuzz {command}`");
    text.AppendLine();
    text.AppendLine("| target | executions | paths found | crashes | hangs | seconds | result |");
    text.AppendLine("| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    foreach (var r in results)
    {
        text.AppendLine(Invariant($"| {r.Target} | {r.Executions} | {r.Paths} | {r.Crashes} | {r.Hangs} | {r.Seconds:0} | {Verdict(r, asked).Replace("|", "\\|", StringComparison.Ordinal)} |"));
    }

    text.AppendLine();
    text.AppendLine("A crash is an exception the target lets through (the daemon would answer `internal_error` or lose a worker) or a dead process; a hang is an input that runs past 5 s. Each finding becomes a test with its input: the first run of the `audio` target found an MP3 stream with a RIFF header inside that held the managed MP3 decoder in a loop for good (fixed; `BadInputTests.An_mp3_stream_with_a_riff_header_inside_ends_in_a_result`), and the first run of the `profile` target a number beyond the decimal range (`4E6000`) that made the schema check throw instead of naming the field (fixed; `DeviceProfileLoaderTests`).");
    return text.ToString();
}

static string Invariant(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
