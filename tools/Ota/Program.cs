using Appliance.OtaTool;
using Spectre.Console;

// Redirected to a file or a pipe, lines are not cut at 80 columns (logs are searched for whole messages).
if (Console.IsOutputRedirected)
{
    AnsiConsole.Console.Profile.Width = 250;
}

return await OtaCli.InvokeAsync(args, AnsiConsole.Console).ConfigureAwait(false);
