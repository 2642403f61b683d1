using System.CommandLine;
using Appliance.Contracts;
using Spectre.Console;

namespace Appliance.FleetView;

/// <summary>
/// The <c>fleet-view</c> command line: lists every device of a fleet group from the retained status documents on the
/// broker, as a table that refreshes as the documents change (or once, for scripts).
/// </summary>
internal static class FleetViewCli
{
    /// <summary>Runs the command; exit code 0, 1 when no device of the group was found (<c>--once</c>) or an argument is wrong, 2 when the broker cannot be reached.</summary>
    public static Task<int> InvokeAsync(string[] args, IAnsiConsole console, CancellationToken cancellationToken = default) =>
        Build(console).Parse(args).InvokeAsync(cancellationToken: cancellationToken);

    private static RootCommand Build(IAnsiConsole console)
    {
        var host = new Option<string>("--host") { Description = "MQTT broker host", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "MQTT broker port", DefaultValueFactory = _ => 1883 };
        var group = new Option<string>("--group") { Description = "The fleet group (the hubs' Fleet:Group)", Required = true };
        group.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } name && !Identifiers.IsValidDeviceId(name))
            {
                result.AddError($"--group '{name}' is not a fleet group name: use {Identifiers.DeviceIdDescription}");
            }
        });
        var username = new Option<string?>("--username") { Description = "MQTT user name (an operator account)" };
        var password = new Option<string?>("--password") { Description = "MQTT password" };
        var once = new Option<bool>("--once") { Description = "Print the table once, when the retained documents have arrived, and exit" };
        var settle = new Option<double>("--settle") { Description = "With --once: seconds without a retained document after which all are taken to have arrived", DefaultValueFactory = _ => 1.0 };

        var root = new RootCommand("Lists every device of a fleet group from the retained status documents: version, profile, models, health and load")
        {
            host, port, group, username, password, once, settle,
        };
        root.SetAction(async (parse, cancellationToken) =>
        {
            var options = new ApplianceClientOptions { Host = parse.GetValue(host)!, Port = parse.GetValue(port), Username = parse.GetValue(username), Password = parse.GetValue(password) };
            var directory = new FleetDirectory(parse.GetValue(group)!);
            ApplianceClient client;
            try
            {
                client = await ApplianceClient.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or ApplianceClientException)
            {
                console.MarkupLineInterpolated($"[red]Cannot reach the broker at {options.Host}:{options.Port}:[/] {ex.Message}");
                return 2;
            }

            await using (client.ConfigureAwait(false))
            {
                var statuses = await client.SubscribeAsync(Topics.StatusFilter, cancellationToken).ConfigureAwait(false);
                await using var subscription = statuses.ConfigureAwait(false);
                return parse.GetValue(once)
                    ? await PrintOnceAsync(console, directory, statuses, TimeSpan.FromSeconds(parse.GetValue(settle)), cancellationToken).ConfigureAwait(false)
                    : await WatchAsync(console, directory, statuses, cancellationToken).ConfigureAwait(false);
            }
        });
        return root;
    }

    private static async Task<int> PrintOnceAsync(IAnsiConsole console, FleetDirectory directory, TopicSubscription statuses, TimeSpan settle, CancellationToken cancellationToken)
    {
        // The retained documents come right after the subscription, flagged retained, with no end marker: they are all
        // in once a live (unflagged) one comes, or none for a while.
        while (await NextAsync(statuses, settle, cancellationToken).ConfigureAwait(false) is { } message)
        {
            directory.Apply(message.Topic, message.Payload);
            if (!message.Retain)
            {
                break;
            }
        }

        var fleet = directory.Snapshot();
        console.Write(FleetTable.Render(fleet, DateTimeOffset.UtcNow));
        if (fleet.Devices.Count == 0)
        {
            console.MarkupLineInterpolated($"[yellow]No device of group {fleet.Group} has a status on this broker.[/]");
            return 1;
        }

        return 0;
    }

    private static async Task<int> WatchAsync(IAnsiConsole console, FleetDirectory directory, TopicSubscription statuses, CancellationToken cancellationToken)
    {
        try
        {
            await console.Live(FleetTable.Render(directory.Snapshot(), DateTimeOffset.UtcNow)).StartAsync(async live =>
            {
                while (!cancellationToken.IsCancellationRequested)
                {
                    // Redrawn on every change, and every second for the ages.
                    if (await NextAsync(statuses, TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false) is { } message)
                    {
                        directory.Apply(message.Topic, message.Payload);
                    }

                    live.UpdateTarget(FleetTable.Render(directory.Snapshot(), DateTimeOffset.UtcNow));
                }
            }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Ctrl+C.
        }

        return 0;
    }

    /// <summary>The next message, or null when none comes within <paramref name="wait"/>.</summary>
    private static async Task<ObservedMessage?> NextAsync(TopicSubscription subscription, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(wait);
        try
        {
            return await subscription.ReadAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}
