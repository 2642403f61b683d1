using Appliance.MeetingPlayer;

return await PlayerCli.InvokeAsync(args).ConfigureAwait(false);
