using Spectre.Console;

namespace Appliance.Daemon.Tests.Infrastructure;

/// <summary>Consoles for the command-line tools under test: plain text, no colours, 250 columns.</summary>
internal static class PlainConsole
{
    /// <summary>A console that writes to <paramref name="writer"/>.</summary>
    public static IAnsiConsole Create(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 250;
        return console;
    }
}
