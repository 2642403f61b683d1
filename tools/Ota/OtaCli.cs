using System.CommandLine;
using System.Net;
using Appliance.Inference;
using Appliance.Llm;
using Appliance.Ota;
using Spectre.Console;

namespace Appliance.OtaTool;

/// <summary>
/// The technician's <c>appliance-ota</c> command line: keys, a signed repository of model bundles, and a static
/// server for it. Every command returns 0 on success and 1 with a one-line reason otherwise.
/// </summary>
internal static class OtaCli
{
    private static readonly string[] RoleNames = [Roles.Root, Roles.Targets, Roles.Snapshot, Roles.Timestamp];

    public static Task<int> InvokeAsync(string[] args, IAnsiConsole console, CancellationToken cancellationToken = default) =>
        Build(console).Parse(args).InvokeAsync(cancellationToken: cancellationToken);

    private static RootCommand Build(IAnsiConsole console)
    {
        var repo = new Option<DirectoryInfo>("--repo") { Description = "The repository folder (static files)", Required = true };
        var signingKeys = new Option<FileInfo[]>("--key") { Description = "A private key file to sign with (repeat; each signs the roles the root lists it for)", AllowMultipleArgumentsPerToken = true };

        var keyOut = new Option<FileInfo>("--out") { Description = "Where to write the private key; the public entry goes beside it as .pub", Required = true };
        var keygen = new Command("keygen", "Create an Ed25519 signing key") { keyOut };
        keygen.SetAction(parse => Run(console, () =>
        {
            using var key = SigningKey.Generate();
            Directory.CreateDirectory(parse.GetValue(keyOut)!.DirectoryName!);
            key.Save(parse.GetValue(keyOut)!.FullName);
            console.MarkupLineInterpolated($"key [bold]{key.KeyId[..16]}[/] written to {parse.GetValue(keyOut)!.FullName}");
        }));

        var roleKeys = new Option<string[]>("--role-key") { Description = "ROLE=KEYFILE: a key of a role (root, targets, snapshot, timestamp); repeat for more keys or roles", Required = true, AllowMultipleArgumentsPerToken = true };
        var thresholds = new Option<string[]>("--threshold") { Description = "ROLE=N: how many of the role's keys must sign (1 when not given)", AllowMultipleArgumentsPerToken = true };
        var init = new Command("init", "Create a repository: root metadata version 1 naming each role's keys, signed by them") { repo, roleKeys, thresholds };
        init.SetAction(parse => Run(console, () =>
        {
            using var keys = new KeyRing(parse.GetValue(roleKeys) is { } given ? [.. Pairs(given, "--role-key").Select(p => new FileInfo(p.Value))] : []);
            new OtaRepository(parse.GetValue(repo)!.FullName, TimeProvider.System).Init(RoleKeysOf(parse, roleKeys, thresholds, keys), keys.Keys);
            console.MarkupLineInterpolated($"repository created in {parse.GetValue(repo)!.FullName}: root version 1");
        }));

        var rotate = new Command("rotate-root", "Sign the next root version: each role's keys and thresholds as given (new keys, a key left out, a renewed expiry), signed by the threshold of the current root's keys and of the new ones; targets, snapshot and timestamp are signed again under it")
        {
            repo, roleKeys, thresholds, signingKeys,
        };
        rotate.SetAction(parse => Run(console, () =>
        {
            using var roleRing = new KeyRing([.. Pairs(parse.GetValue(roleKeys) ?? [], "--role-key").Select(p => new FileInfo(p.Value))]);
            using var signers = new KeyRing(parse.GetValue(signingKeys) ?? []);
            var repository = new OtaRepository(parse.GetValue(repo)!.FullName, TimeProvider.System);
            var root = repository.RotateRoot(RoleKeysOf(parse, roleKeys, thresholds, roleRing), [.. signers.Keys, .. roleRing.Keys]);
            console.MarkupLineInterpolated($"root version {root.Version} signed, valid until {root.Expires:u}; targets, snapshot and timestamp signed again under it");
        }));

        var bundle = new Option<string>("--bundle") { Description = "The bundle's name (for example tv-models)", Required = true };
        var release = new Option<int>("--release") { Description = "The release counter, higher than every release this repository signs (devices take only newer releases)", Required = true };
        var models = new Option<string[]>("--model") { Description = "FEATURE=FOLDER: a model folder for a feature (asr, voiceLlm, summaryLlm, vad, wakeWord); repeat", Required = true, AllowMultipleArgumentsPerToken = true };
        var modelIds = new Option<string[]>("--model-id") { Description = "FEATURE=ID: the model id (default: the folder's name)", AllowMultipleArgumentsPerToken = true };
        var entries = new Option<string[]>("--entry") { Description = "FEATURE=FILE: the file the feature loads, for a one-file model such as silero_vad.onnx", AllowMultipleArgumentsPerToken = true };
        var socs = new Option<string[]>("--soc") { Description = "An SoC model the release is for, as profiles name it in soc.model (repeat; none: any)", AllowMultipleArgumentsPerToken = true };
        var profiles = new Option<string[]>("--profile") { Description = "A device profile the release is for (repeat; none: any)", AllowMultipleArgumentsPerToken = true };
        var minDaemon = new Option<string>("--min-daemon") { Description = "The oldest daemon version that can run it", DefaultValueFactory = _ => "0.0.0" };
        var smokePrompt = new Option<string?>("--smoke-prompt") { Description = "The golden prompt of the language models: its greedy token ids are recorded and checked on every device" };
        var smokeClips = new Option<string[]>("--smoke-clip") { Description = "FEATURE=FILE: a 16 kHz WAV inside the Whisper model's folder whose token ids are recorded and checked", AllowMultipleArgumentsPerToken = true };
        var releaseCommand = new Command("release", "Pack model folders into targets, run the smoke test to record its expectations, add them as a bundle, and sign targets, snapshot and timestamp")
        {
            repo, signingKeys, bundle, release, models, modelIds, entries, socs, profiles, minDaemon, smokePrompt, smokeClips,
        };
        releaseCommand.SetAction((parse, cancellationToken) => RunAsync(console, async () =>
        {
            var repository = new OtaRepository(parse.GetValue(repo)!.FullName, TimeProvider.System);
            var ids = Pairs(parse.GetValue(modelIds) ?? [], "--model-id").ToDictionary();
            var entryFiles = Pairs(parse.GetValue(entries) ?? [], "--entry").ToDictionary();
            var targets = repository.Targets;
            if (targets.Bundles.Values.Select(b => b.Release).DefaultIfEmpty(0).Max() is var newest && parse.GetValue(release) <= newest)
            {
                throw new RepositoryException($"--release {parse.GetValue(release)} is not above release {newest}, the newest this repository signs: devices take only newer releases");
            }

            var files = new Dictionary<string, TargetFile>(targets.Targets);
            var members = new List<string>();
            var clips = Pairs(parse.GetValue(smokeClips) ?? [], "--smoke-clip").ToDictionary();
            var smokeTest = new ModelSmokeTest(new LlmServiceOptions(), InferenceSettings.Cpu(), TimeProvider.System);
            using var keys = new KeyRing(parse.GetValue(signingKeys) ?? []);

            // Before anything is tested or packed: the repository and the keys that will sign.
            repository.RequirePublishKeys(keys.Keys);
            foreach (var (feature, folder) in Pairs(parse.GetValue(models)!, "--model"))
            {
                if (!OtaFeatures.All.Contains(feature))
                {
                    throw new RepositoryException($"--model {feature}=…: not a feature ({string.Join(", ", OtaFeatures.All)})");
                }

                var entry = entryFiles.GetValueOrDefault(feature);
                var prompt = feature is OtaFeatures.VoiceLlm or OtaFeatures.SummaryLlm ? parse.GetValue(smokePrompt) : null;
                var clip = clips.GetValueOrDefault(feature);
                var (tokens, problem) = await smokeTest.ObserveAsync(entry is null ? folder : Path.Combine(folder, entry), feature, prompt, clip, cancellationToken).ConfigureAwait(false);
                if (problem is not null)
                {
                    throw new RepositoryException($"{folder}: the smoke test fails, nothing is released: {problem}");
                }

                var custom = new ModelTarget
                {
                    Feature = feature,
                    ModelId = ids.GetValueOrDefault(feature) ?? new DirectoryInfo(folder).Name,
                    Release = parse.GetValue(release),
                    Socs = parse.GetValue(socs) ?? [],
                    Profiles = parse.GetValue(profiles) ?? [],
                    MinDaemonVersion = parse.GetValue(minDaemon)!,
                    Entry = entry,
                    Smoke = tokens is null ? null : new SmokeExpectation { Prompt = prompt, Clip = clip, TokenIds = tokens },
                };
                var (path, file) = console.Status().Start($"packing {folder}", _ => repository.Pack(folder, custom));
                files[path] = file;
                members.Add(path);
                console.MarkupLineInterpolated($"  {path}: {file.Length:N0} bytes, sha256 {file.Hashes["sha256"][..16]}…, smoke test passed{(tokens is null ? "" : $", {tokens.Count} token ids recorded")}");
            }

            var bundles = new Dictionary<string, Bundle>(targets.Bundles) { [parse.GetValue(bundle)!] = new Bundle { Release = parse.GetValue(release), Targets = members } };
            repository.Publish(targets with { Targets = files, Bundles = bundles }, keys.Keys);
            console.MarkupLineInterpolated($"bundle [bold]{parse.GetValue(bundle)}[/] release {parse.GetValue(release)} signed: targets version {repository.Targets.Version}");
        }));

        var refresh = new Command("refresh", "Re-sign snapshot and timestamp with fresh expiries, so devices keep trusting an unchanged repository") { repo, signingKeys };
        refresh.SetAction(parse => Run(console, () =>
        {
            using var keys = new KeyRing(parse.GetValue(signingKeys) ?? []);
            new OtaRepository(parse.GetValue(repo)!.FullName, TimeProvider.System).Refresh(keys.Keys);
            console.MarkupLine("snapshot and timestamp re-signed");
        }));

        var bind = new Option<string>("--bind") { Description = "The address to listen on", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "The TCP port (0: any free one)", DefaultValueFactory = _ => 8080 };
        var serve = new Command("serve", "Serve the repository over HTTP, with range requests, until Ctrl+C") { repo, bind, port };
        serve.SetAction(async (parse, cancellationToken) =>
        {
            if (!IPAddress.TryParse(parse.GetValue(bind), out var address))
            {
                console.MarkupLineInterpolated($"[red]--bind {parse.GetValue(bind)}: not an IP address[/]");
                return 1;
            }

            if (!File.Exists(Path.Combine(parse.GetValue(repo)!.FullName, Roles.RootFileName(1))))
            {
                console.MarkupLineInterpolated($"[red]{parse.GetValue(repo)!.FullName} holds no repository (no 1.root.json): run init first, or check --repo[/]");
                return 1;
            }

            RepositoryServer server;
            try
            {
                server = await RepositoryServer.StartAsync(parse.GetValue(repo)!.FullName, address, parse.GetValue(port), null).ConfigureAwait(false);
            }
            catch (HttpListenerException e)
            {
                console.MarkupLineInterpolated($"[red]cannot listen on {address}:{parse.GetValue(port)}: {e.Message}[/]");
                return 1;
            }

            await using (server.ConfigureAwait(false))
            {
                console.MarkupLineInterpolated($"serving {parse.GetValue(repo)!.FullName} at [bold]{server.Address}[/]; Ctrl+C stops");
                await Task.Delay(Timeout.Infinite, cancellationToken).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
            }

            return 0;
        });

        var root = new RootCommand("appliance-ota: signed over-the-air model updates for appliance daemons, and published models for a board") { keygen, init, rotate, releaseCommand, refresh, serve, ModelsCommand(console) };
        foreach (var command in DeviceCommands.Build(console))
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    private static Command ModelsCommand(IAnsiConsole console)
    {
        var repoId = new Argument<string>("repo") { Description = "The model repository on the hub, for example onnxruntime/DeepSeek-R1-Distill-ONNX" };
        var folder = new Option<string>("--folder") { Description = "The folder inside the repository to fetch, for example deepseek-r1-distill-qwen-1.5B/cpu_and_mobile/cpu-int4-rtn-block-32-acc-level-4 (default: all of it)", DefaultValueFactory = _ => "" };
        var revision = new Option<string>("--revision") { Description = "The branch, tag or commit", DefaultValueFactory = _ => "main" };
        var output = new Option<DirectoryInfo>("--out") { Description = "Where the model folder goes (for example models/deepseek-r1-distill-qwen-1.5b-int4)", Required = true };
        var endpoint = new Option<string>("--endpoint") { Description = "The hub's address; HF_ENDPOINT when set", DefaultValueFactory = _ => Environment.GetEnvironmentVariable("HF_ENDPOINT") is { Length: > 0 } e ? e : "https://huggingface.co/" };
        var token = new Option<string?>("--token") { Description = "An access token for gated repositories; HF_TOKEN when set" };
        var pull = new Command("pull", "Fetch a published model folder from a model hub: every file listed by the hub's API, downloaded with resume, checked against its SHA-256 (Git LFS) or Git blob id") { repoId, folder, revision, output, endpoint, token };
        pull.SetAction(async (parse, cancellationToken) =>
        {
            using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
            if ((parse.GetValue(token) ?? Environment.GetEnvironmentVariable("HF_TOKEN")) is { Length: > 0 } bearer)
            {
                http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            }

            if (!Uri.TryCreate(parse.GetValue(endpoint), UriKind.Absolute, out var hubAddress) || hubAddress.Scheme is not ("http" or "https"))
            {
                console.MarkupLineInterpolated($"[red]--endpoint {parse.GetValue(endpoint)}: not an http or https address[/]");
                return 1;
            }

            var baseUri = hubAddress.AbsoluteUri.EndsWith('/') ? hubAddress : new Uri(hubAddress.AbsoluteUri + "/");
            var hub = new ModelHub(http, baseUri, new FetchLimits { MinBytesPerSecond = 8 * 1024, SpeedWindow = TimeSpan.FromSeconds(30) });
            var (repo, rev, prefix) = (parse.GetValue(repoId)!, parse.GetValue(revision)!, parse.GetValue(folder)!.Trim('/'));
            var (files, problem) = await hub.ListAsync(repo, rev, prefix, cancellationToken).ConfigureAwait(false);
            if (problem is not null)
            {
                console.MarkupLineInterpolated($"[red]{problem}[/]");
                return 1;
            }

            var failures = new List<string>();
            int downloaded = 0, kept = 0;
            await console.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn()).StartAsync(async context =>
            {
                foreach (var file in files)
                {
                    var relative = prefix.Length == 0 ? file.Path : file.Path[(prefix.Length + 1)..];
                    var task = context.AddTask(Markup.Escape(relative), maxValue: Math.Max(1, file.Length));
                    var (fetched, failure) = await hub.PullAsync(repo, rev, file, Path.Combine(parse.GetValue(output)!.FullName, relative), new Progress<FetchProgress>(p => task.Value = p.Bytes), cancellationToken).ConfigureAwait(false);
                    task.Value = failure is null ? task.MaxValue : task.Value;
                    task.StopTask();
                    if (failure is not null)
                    {
                        failures.Add($"{relative}: {failure}");
                    }
                    else if (fetched)
                    {
                        downloaded++;
                    }
                    else
                    {
                        kept++;
                    }
                }
            }).ConfigureAwait(false);
            foreach (var failure in failures)
            {
                console.MarkupLineInterpolated($"[red]{failure}[/]");
            }

            console.MarkupLineInterpolated($"{repo}@{rev}/{prefix}: {downloaded} file(s) downloaded, {kept} already there and verified, {failures.Count} failed; in {parse.GetValue(output)!.FullName}");
            return failures.Count == 0 ? 0 : 1;
        });
        return new Command("models", "Published models for a board") { pull };
    }

    private static int Run(IAnsiConsole console, Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (Exception e) when (e is RepositoryException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
    }

    private static async Task<int> RunAsync(IAnsiConsole console, Func<Task> action)
    {
        try
        {
            await action().ConfigureAwait(false);
            return 0;
        }
        catch (Exception e) when (e is RepositoryException or IOException or InvalidDataException or UnauthorizedAccessException)
        {
            console.MarkupLineInterpolated($"[red]{e.Message}[/]");
            return 1;
        }
    }

    /// <summary>Each role's public keys (from the key files of <c>--role-key ROLE=FILE</c>, loaded in <paramref name="keys"/>) and threshold (<c>--threshold ROLE=N</c>, else 1).</summary>
    private static Dictionary<string, (IReadOnlyList<KeyEntry> Keys, int Threshold)> RoleKeysOf(System.CommandLine.ParseResult parse, Option<string[]> roleKeys, Option<string[]> thresholds, KeyRing keys)
    {
        var pairs = Pairs(parse.GetValue(roleKeys) ?? [], "--role-key");
        if (pairs.FirstOrDefault(p => !RoleNames.Contains(p.Key)) is { Key: { } unknown })
        {
            throw new RepositoryException($"--role-key {unknown}=…: not a role (root, targets, snapshot, timestamp)");
        }

        var limits = Pairs(parse.GetValue(thresholds) ?? [], "--threshold").ToDictionary(p => p.Key, p => int.TryParse(p.Value, out var n) && n > 0 ? n : throw new RepositoryException($"--threshold {p.Key}={p.Value}: not a positive number"));
        var byFile = keys.ByFile;
        return RoleNames.ToDictionary(r => r, r =>
        {
            var entries = pairs.Where(p => p.Key == r).Select(p => byFile[new FileInfo(p.Value).FullName].Public).ToList();
            return entries.Count == 0 ? throw new RepositoryException($"no --role-key for the {r} role") : ((IReadOnlyList<KeyEntry>)entries, limits.GetValueOrDefault(r, 1));
        });
    }

    private static List<KeyValuePair<string, string>> Pairs(IEnumerable<string> values, string option) =>
        [.. values.Select(v => v.IndexOf('=', StringComparison.Ordinal) is > 0 and var i && i < v.Length - 1
            ? KeyValuePair.Create(v[..i], v[(i + 1)..])
            : throw new RepositoryException($"{option} {v}: expected NAME=VALUE"))];

    /// <summary>The signing keys of one command, disposed together.</summary>
    private sealed class KeyRing(FileInfo[] files) : IDisposable
    {
        /// <summary>Each file's key, by the file's full path; a file named twice is loaded once.</summary>
        public IReadOnlyDictionary<string, SigningKey> ByFile { get; } = files.Select(f => f.FullName).Distinct().ToDictionary(f => f, SigningKey.Load);

        public IReadOnlyCollection<SigningKey> Keys => [.. ByFile.Values];

        public void Dispose()
        {
            foreach (var key in ByFile.Values)
            {
                key.Dispose();
            }
        }
    }
}
