using System.CommandLine;
using Appliance.Contracts;
using MQTTnet;
using MQTTnet.Protocol;
using Spectre.Console;

namespace Appliance.OtaTool;

/// <summary>
/// The commands that talk to devices over MQTT: <c>push</c> (an update to devices or a fleet group) and <c>watch</c>
/// (each device's progress, live). Model bytes never travel this way: devices fetch them from the repository.
/// </summary>
internal static class DeviceCommands
{
    /// <summary>The stages after which a device does nothing more for an update.</summary>
    private static readonly string[] FinalStages = [OtaStageNames.Committed, OtaStageNames.UpToDate, OtaStageNames.Refused, OtaStageNames.RolledBack];

    public static IEnumerable<Command> Build(IAnsiConsole console)
    {
        var host = new Option<string>("--host") { Description = "MQTT broker host", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "MQTT broker port", DefaultValueFactory = _ => 1883 };
        var username = new Option<string?>("--username") { Description = "MQTT user name (a technician or operator account)" };
        var password = new Option<string?>("--password") { Description = "MQTT password" };
        var devices = new Option<string[]>("--device") { Description = "A device id (repeat)", AllowMultipleArgumentsPerToken = true };
        var group = new Option<string?>("--group") { Description = "A fleet group (the devices' Fleet:Group)" };
        var bundle = new Option<string>("--bundle") { Description = "The bundle to install", Required = true };
        var release = new Option<int?>("--release") { Description = "With --group: the bundle's release, announced to the group" };

        var push = new Command("push", "Tell devices to install a bundle: each --device by ota.update, or a --group by a retained announcement") { host, port, username, password, devices, group, bundle, release };
        push.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ApplianceClientOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port), Username = parse.GetValue(username), Password = parse.GetValue(password) };
            var ids = parse.GetValue(devices) ?? [];
            var groupName = parse.GetValue(group);
            if (ids.Length == 0 == (groupName is null) || (groupName is not null && parse.GetValue(release) is null))
            {
                console.MarkupLine("[red]push needs either --device (one or more) or --group with --release[/]");
                return 1;
            }

            if (ids.FirstOrDefault(id => !Identifiers.IsValidDeviceId(id)) is { } badId)
            {
                console.MarkupLineInterpolated($"[red]--device {badId}: not a device id ({Identifiers.DeviceIdDescription})[/]");
                return 1;
            }

            var failed = 0;
            if (groupName is not null)
            {
                ApplianceClient client;
                try
                {
                    client = await BrokerFeed.Connect(options, cancellationToken).ConfigureAwait(false);
                }
                catch (BrokerUnreachableException e)
                {
                    console.MarkupLineInterpolated($"[red]{e.Message}[/]");
                    return 2;
                }

                await using var owned = client.ConfigureAwait(false);
                var announcement = new OtaAnnouncement(parse.GetValue(bundle)!, parse.GetValue(release)!.Value);
                await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(Topics.OtaAnnouncement(groupName)).WithPayload(Channels.OtaAnnouncement.Serialize(announcement))
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).WithRetainFlag().Build(), cancellationToken).ConfigureAwait(false);
                console.MarkupLineInterpolated($"announced bundle {announcement.Bundle} release {announcement.Release} to group {groupName}");
            }

            foreach (var id in ids)
            {
                // The device's own check first: a refusal (another profile, a bundle not signed) is said here, not only on ota/progress.
                if (await CheckAsync(options, id, parse.GetValue(bundle), cancellationToken).ConfigureAwait(false) is { } verdict)
                {
                    failed += verdict.Failed ? 1 : 0;
                    console.MarkupLineInterpolated($"{id}: {verdict.Message}");
                    continue;
                }

                if (await StartUpdateAsync(options, id, parse.GetValue(bundle), cancellationToken).ConfigureAwait(false) is { } error)
                {
                    failed++;
                    console.MarkupLineInterpolated($"{id}: [red]{error}[/]");
                }
                else
                {
                    console.MarkupLineInterpolated($"{id}: update started");
                }
            }

            return failed == 0 ? 0 : 1;
        });

        var untilDone = new Option<bool>("--until-done") { Description = "Exit when every device reached a final stage (committed, up_to_date, refused, rolled_back): 0 if none was refused or rolled back, else 4" };
        var timeout = new Option<int>("--timeout") { Description = "With --until-done: seconds before giving up (exit 5)", DefaultValueFactory = _ => 600 };
        var since = new Option<DateTimeOffset?>("--since") { Description = "Ignore stages reported before this time (ISO 8601), such as the retained end of an earlier update" };
        var watch = new Command("watch", "Show each device's update progress live: stage, bundle, bytes, rate, and why a device refused") { host, port, username, password, devices, group, untilDone, timeout, since };
        watch.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ApplianceClientOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port), Username = parse.GetValue(username), Password = parse.GetValue(password) };
            var wanted = new HashSet<string>(parse.GetValue(devices) ?? [], StringComparer.Ordinal);
            var groupName = parse.GetValue(group);
            if (wanted.Count == 0 && groupName is null)
            {
                console.MarkupLine("[red]watch needs --device (one or more) or --group[/]");
                return 1;
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (parse.GetValue(untilDone))
            {
                limit.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(timeout)));
            }

            BrokerFeed feed;
            try
            {
                feed = await BrokerFeed.StartAsync(options, [Topics.OtaProgress("+"), Topics.StatusFilter], cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerUnreachableException e)
            {
                console.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }

            await using var owned = feed.ConfigureAwait(false);
            var board = new ProgressBoard(wanted, groupName, parse.GetValue(since));
            var done = false;
            await console.Live(board.Table()).StartAsync(async context =>
            {
                try
                {
                    await foreach (var message in feed.Messages.ReadAllAsync(limit.Token).ConfigureAwait(false))
                    {
                        if (board.Apply(message))
                        {
                            context.UpdateTarget(board.Table());
                            context.Refresh();
                        }

                        if (parse.GetValue(untilDone) && board.AllIn(FinalStages))
                        {
                            done = true;
                            return;
                        }
                    }
                }
                catch (OperationCanceledException) when (limit.IsCancellationRequested)
                {
                }
            }).ConfigureAwait(false);

            foreach (var line in board.Lines())
            {
                console.WriteLine(line);
            }

            if (!parse.GetValue(untilDone))
            {
                return 0;
            }

            return !done ? 5 : board.AnyIn(OtaStageNames.Refused, OtaStageNames.RolledBack) ? 4 : 0;
        });

        var ratePerMinute = new Option<double>("--rate-per-minute") { Description = "Devices told per minute (AWS IoT Jobs maximumPerMinute, or exponentialRate's baseRatePerMinute)", DefaultValueFactory = _ => 10 };
        var incrementFactor = new Option<double>("--increment-factor") { Description = "Exponential rate: the factor the rate grows by (above 1); 1 keeps it constant", DefaultValueFactory = _ => 1 };
        var increaseAfter = new Option<int>("--increase-after-succeeded") { Description = "Exponential rate: succeeded devices between two increases (rateIncreaseCriteria numberOfSucceededThings)", DefaultValueFactory = _ => 5 };
        var abortPercent = new Option<double>("--abort-failed-percent") { Description = "Abort once more than this percentage of executed devices failed (abortConfig thresholdPercentage)", DefaultValueFactory = _ => 20 };
        var abortMin = new Option<int>("--abort-min-devices") { Description = "Executed devices before the abort threshold applies (minNumberOfExecutedThings)", DefaultValueFactory = _ => 5 };
        var inProgressTimeout = new Option<double>("--in-progress-timeout-minutes") { Description = "A told device with no final stage after this long fails (timeoutConfig inProgressTimeoutInMinutes)", DefaultValueFactory = _ => 30 };
        var rolloutTimeout = new Option<int>("--timeout") { Description = "Seconds before the whole rollout gives up (exit 5)", DefaultValueFactory = _ => 3600 };
        var rollout = new Command("rollout", "A staged rollout of a bundle to devices or a fleet group: a constant or exponential rate, an abort threshold, an in-progress time-out")
        {
            host, port, username, password, devices, group, bundle, ratePerMinute, incrementFactor, increaseAfter, abortPercent, abortMin, inProgressTimeout, rolloutTimeout,
        };
        rollout.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ApplianceClientOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port), Username = parse.GetValue(username), Password = parse.GetValue(password) };
            var policy = new RolloutPolicy
            {
                RatePerMinute = parse.GetValue(ratePerMinute),
                IncrementFactor = parse.GetValue(incrementFactor),
                IncreaseAfterSucceeded = parse.GetValue(increaseAfter),
                AbortFailedPercent = parse.GetValue(abortPercent),
                AbortMinExecuted = parse.GetValue(abortMin),
                InProgressTimeout = TimeSpan.FromMinutes(parse.GetValue(inProgressTimeout)),
            };
            if (policy.RatePerMinute <= 0 || policy.IncrementFactor < 1 || policy.IncreaseAfterSucceeded < 1 || policy.AbortFailedPercent is < 0 or > 100 || policy.AbortMinExecuted < 1 || policy.InProgressTimeout <= TimeSpan.Zero)
            {
                console.MarkupLine("[red]--rate-per-minute must be above 0, --increment-factor at least 1, --abort-failed-percent 0–100, the counts and the time-out positive[/]");
                return 1;
            }

            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(TimeSpan.FromSeconds(parse.GetValue(rolloutTimeout)));
            BrokerFeed feed;
            List<string> targets;
            try
            {
                feed = await BrokerFeed.StartAsync(options, [Topics.OtaProgress("+")], cancellationToken).ConfigureAwait(false);
                targets = parse.GetValue(devices) is { Length: > 0 } listed ? [.. listed] : await GroupMembersAsync(options, parse.GetValue(group), cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerUnreachableException e)
            {
                console.MarkupLineInterpolated($"[red]{e.Message}[/]");
                return 2;
            }

            await using var owned = feed.ConfigureAwait(false);
            if (targets.Count == 0)
            {
                console.MarkupLine("[red]rollout needs --device (one or more) or a --group with devices online[/]");
                return 1;
            }

            var plan = new RolloutPlan(targets, policy);
            var startedAt = DateTimeOffset.UtcNow;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var messages = feed.Messages;
            var timedOut = false;
            await console.Live(RolloutTable(plan)).StartAsync(async context =>
            {
                while (!plan.Done)
                {
                    while (plan.NextDue(clock.Elapsed) is { } device)
                    {
                        if (await StartUpdateAsync(options, device, parse.GetValue(bundle), cancellationToken).ConfigureAwait(false) is { } error)
                        {
                            plan.Finish(device, false, error);
                        }
                    }

                    using var tick = CancellationTokenSource.CreateLinkedTokenSource(limit.Token);
                    tick.CancelAfter(TimeSpan.FromMilliseconds(200));
                    try
                    {
                        while (await messages.WaitToReadAsync(tick.Token).ConfigureAwait(false) && messages.TryRead(out var message))
                        {
                            var device = message.Topic.Split('/')[2];
                            if (message.Deserialize<OtaProgressEvent>() is { } stage && stage.At >= startedAt)
                            {
                                if (stage.Stage is OtaStageNames.Committed or OtaStageNames.UpToDate)
                                {
                                    plan.Finish(device, true, stage.Stage);
                                }
                                else if (stage.Stage is OtaStageNames.Refused or OtaStageNames.RolledBack)
                                {
                                    plan.Finish(device, false, $"{stage.Stage}: {stage.Refusal?.Code}: {stage.Refusal?.Message}");
                                }
                            }
                        }
                    }
                    catch (OperationCanceledException) when (!limit.IsCancellationRequested)
                    {
                    }
                    catch (OperationCanceledException)
                    {
                        timedOut = true;
                        return;
                    }

                    plan.ExpireAt(clock.Elapsed);
                    context.UpdateTarget(RolloutTable(plan));
                    context.Refresh();
                }
            }).ConfigureAwait(false);

            foreach (var (device, state, note) in plan.Devices())
            {
                console.WriteLine($"{device}: {RolloutStateName(state)}{(note is null ? "" : $" ({note})")}");
            }

            var summary = $"{plan.Count(RolloutState.Succeeded)} succeeded, {plan.Count(RolloutState.Failed)} failed, {plan.Count(RolloutState.NotStarted)} not started of {targets.Count}";
            console.WriteLine(plan.Aborted is { } why ? $"rollout aborted: {why}; {summary}" : timedOut ? $"rollout timed out; {summary}" : $"rollout done: {summary}");
            return plan.Aborted is not null ? 3 : timedOut ? 5 : plan.Count(RolloutState.Failed) > 0 ? 4 : 0;
        });

        return [push, watch, rollout];
    }

    /// <summary>Sends <c>ota.update</c> to one device; null when it started, else why not (an error answer, no answer, no broker).</summary>
    private static async Task<string?> StartUpdateAsync(ApplianceClientOptions options, string device, string? bundle, CancellationToken cancellationToken)
    {
        try
        {
            await using var client = await BrokerFeed.Connect(options with { DeviceId = device }, cancellationToken).ConfigureAwait(false);
            var started = await client.InvokeAsync(RpcMethods.OtaUpdate, new OtaBundleParams { Bundle = bundle }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return started.Error is { } error ? $"{error.Code}: {error.Message}" : null;
        }
        catch (BrokerUnreachableException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            return $"no answer: is {device} online on this broker? ({e.Message})";
        }
    }

    /// <summary>
    /// Asks the device what it would install (<c>ota.check</c>): null when it would install <paramref name="bundle"/>,
    /// else a line saying why not (refused, up to date, no answer) and whether that is a failure.
    /// </summary>
    private static async Task<(string Message, bool Failed)?> CheckAsync(ApplianceClientOptions options, string device, string? bundle, CancellationToken cancellationToken)
    {
        try
        {
            await using var client = await BrokerFeed.Connect(options with { DeviceId = device }, cancellationToken).ConfigureAwait(false);
            var check = await client.InvokeAsync(RpcMethods.OtaCheck, new OtaBundleParams { Bundle = bundle }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return check switch
            {
                { Error: { } error } => ($"{error.Code}: {error.Message}", true),
                { Value.Refusal: { } refusal } => ($"refused: {refusal.Code}: {refusal.Message}", true),
                { Value.UpdateAvailable: false } => ("up to date: nothing newer for this device", false),
                _ => null,
            };
        }
        catch (BrokerUnreachableException e)
        {
            return (e.Message, true);
        }
        catch (Exception e) when (e is TimeoutException or ApplianceClientException or MQTTnet.Exceptions.MqttCommunicationException)
        {
            return ($"no answer: is {device} online on this broker? ({e.Message})", true);
        }
    }

    private static string RolloutStateName(RolloutState state) => state switch
    {
        RolloutState.Queued => "queued",
        RolloutState.InProgress => "in progress",
        RolloutState.Succeeded => "succeeded",
        RolloutState.Failed => "failed",
        _ => "not started",
    };

    private static Table RolloutTable(RolloutPlan plan)
    {
        var table = new Table().AddColumns("device", "state", "note").Caption(Markup.Escape(
            $"rate {plan.RatePerMinute:0.#}/min · {plan.Count(RolloutState.Succeeded)} succeeded · {plan.Count(RolloutState.Failed)} failed · {plan.Count(RolloutState.InProgress)} in progress" +
            (plan.Aborted is { } why ? $" · ABORTED: {why}" : "")));
        foreach (var (device, state, note) in plan.Devices())
        {
            table.AddRow(Markup.Escape(device), RolloutStateName(state), Markup.Escape(note ?? ""));
        }

        return table;
    }

    /// <summary>The devices of <paramref name="group"/> whose retained status says they are online, ordered by id.</summary>
    private static async Task<List<string>> GroupMembersAsync(ApplianceClientOptions options, string? group, CancellationToken cancellationToken)
    {
        if (group is null)
        {
            return [];
        }

        await using var client = await BrokerFeed.Connect(options, cancellationToken).ConfigureAwait(false);
        var members = new SortedSet<string>(StringComparer.Ordinal);
        var statuses = await client.SubscribeAsync(Topics.StatusFilter, cancellationToken).ConfigureAwait(false);
        await using var subscription = statuses.ConfigureAwait(false);
        using var settle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        settle.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await foreach (var message in statuses.ReadAllAsync(settle.Token).ConfigureAwait(false))
            {
                if (message.Payload.Length > 0 && message.Deserialize<StatusDocument>() is { Online: true } status && status.FleetGroup == group)
                {
                    members.Add(status.DeviceId);
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return [.. members];
    }

    /// <summary>Each device's latest stage and status, for the table.</summary>
    private sealed class ProgressBoard(HashSet<string> wanted, string? group, DateTimeOffset? since)
    {
        private readonly SortedDictionary<string, (OtaProgressEvent? Progress, StatusDocument? Status)> _rows = new(StringComparer.Ordinal);

        public bool Apply(ObservedMessage message)
        {
            var parts = message.Topic.Split('/');
            if (parts.Length < 4 || message.Payload.Length == 0)
            {
                return false;
            }

            var device = parts[2];
            var row = _rows.GetValueOrDefault(device);
            if (message.Topic.EndsWith("/ota/progress", StringComparison.Ordinal))
            {
                var progress = message.Deserialize<OtaProgressEvent>();
                if (progress is null || progress.At < since)
                {
                    return false;
                }

                row.Progress = progress;
            }
            else
            {
                row.Status = message.Deserialize<StatusDocument>();
            }

            if (!Wanted(device, row.Status))
            {
                return false;
            }

            _rows[device] = row;
            return true;
        }

        public bool AllIn(string[] stages)
        {
            var rows = Rows().ToList();
            return rows.Count > 0 && (wanted.Count == 0 || wanted.All(_rows.ContainsKey)) && rows.All(r => r.Value.Progress?.Stage is { } stage && stages.Contains(stage));
        }

        public bool AnyIn(params string[] stages) => Rows().Any(r => r.Value.Progress?.Stage is { } stage && stages.Contains(stage));

        public Table Table()
        {
            var table = new Table().AddColumns("device", "stage", "bundle", "release", "downloaded", "rate", "running", "note");
            foreach (var (device, (progress, status)) in Rows())
            {
                var running = status?.Ota is { } ota ? $"{ota.Bundle ?? "profile"} r{ota.Release}" : "";
                table.AddRow(
                    Markup.Escape(device),
                    Markup.Escape(progress?.Stage ?? "-"),
                    Markup.Escape(progress?.Bundle ?? ""),
                    progress?.Release?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "",
                    progress is { TotalBytes: > 0 } p ? $"{p.Bytes * 100 / p.TotalBytes}% of {p.TotalBytes:N0} B" : "",
                    progress is { BytesPerSecond: > 0 } r ? $"{r.BytesPerSecond / 1024:0} KiB/s" : "",
                    Markup.Escape(running),
                    Markup.Escape(progress?.Refusal is { } refusal ? $"{refusal.Code}: {refusal.Message}" : ""));
            }

            return table;
        }

        public IEnumerable<string> Lines() => Rows().Select(r =>
            $"{r.Key}: {r.Value.Progress?.Stage ?? "no update"}" +
            (r.Value.Progress?.Bundle is { } bundle ? $" {bundle} release {r.Value.Progress.Release}" : "") +
            (r.Value.Progress?.Refusal is { } refusal ? $" ({refusal.Code}: {refusal.Message})" : ""))
            .Concat(wanted.Where(d => !_rows.ContainsKey(d)).Order(StringComparer.Ordinal).Select(d => $"{d}: no status and no update on this broker (is the device id right, and is it online?)"));

        private IEnumerable<KeyValuePair<string, (OtaProgressEvent? Progress, StatusDocument? Status)>> Rows() => _rows.Where(r => Wanted(r.Key, r.Value.Status));

        private bool Wanted(string device, StatusDocument? status) =>
            wanted.Contains(device) || (group is not null && status?.FleetGroup == group);
    }
}
