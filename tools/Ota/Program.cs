using Appliance.OtaTool;
using Spectre.Console;

return await OtaCli.InvokeAsync(args, AnsiConsole.Console).ConfigureAwait(false);
