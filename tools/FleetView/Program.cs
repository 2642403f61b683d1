using Appliance.FleetView;
using Spectre.Console;

return await FleetViewCli.InvokeAsync(args, AnsiConsole.Console).ConfigureAwait(false);
