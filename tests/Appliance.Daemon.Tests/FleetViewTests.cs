using System.Text;
using Appliance.Contracts;
using Appliance.Daemon.Tests.Infrastructure;
using Appliance.FleetView;

namespace Appliance.Daemon.Tests;

/// <summary>The fleet view draws what other devices publish, so a document with fields missing must not stop it.</summary>
public sealed class FleetViewTests
{
    [Theory]
    [InlineData("""{"online":true,"deviceId":"hub-1","fleetGroup":"hubs","health":{"status":"degraded"},"models":[null]}""", "degraded")]
    [InlineData("""{"online":true,"deviceId":"hub-1","fleetGroup":"hubs","health":{"checks":null},"models":[{"feature":"asr"}]}""", "asr ? ?")]
    [InlineData("""{"online":false,"deviceId":"hub-1","fleetGroup":"hubs"}""", "offline")]
    public void A_document_with_fields_missing_is_drawn_with_what_it_has(string document, string expected)
    {
        var directory = new FleetDirectory("hubs");
        Assert.True(directory.Apply(Topics.Status("hub-1"), Encoding.UTF8.GetBytes(document)));
        var printed = new StringWriter();
        PlainConsole.Create(printed).Write(FleetTable.Render(directory.Snapshot(), DateTimeOffset.UtcNow));

        Assert.Contains("hub-1", printed.ToString(), StringComparison.Ordinal);
        Assert.Contains(expected, printed.ToString(), StringComparison.Ordinal);
    }
}
