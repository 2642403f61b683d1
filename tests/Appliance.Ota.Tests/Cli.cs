using Appliance.OtaTool;
using Spectre.Console;

namespace Appliance.Ota.Tests;

/// <summary>Runs <c>appliance-ota</c> in the test's process on a plain console, 250 columns, and gives its exit code and output.</summary>
internal static class Cli
{
    public static async Task<(int Code, string Output)> RunAsync(params string[] args)
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.No });
        console.Profile.Width = 250;
        return (await OtaCli.InvokeAsync(args, console), writer.ToString());
    }
}
