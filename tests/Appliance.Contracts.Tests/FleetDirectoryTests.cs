namespace Appliance.Contracts.Tests;

/// <summary>The fleet view folded from retained status documents: who is listed, who is dropped, what is ignored.</summary>
public sealed class FleetDirectoryTests
{
    private static byte[] Status(string deviceId, string? group, bool online = true, string? reason = null) =>
        Channels.Status.Serialize(new StatusDocument { Online = online, DeviceId = deviceId, FleetGroup = group, Reason = reason });

    [Fact]
    public void Devices_of_the_group_are_listed_in_order_and_a_lost_one_stays_with_its_reason()
    {
        var directory = new FleetDirectory("hubs");
        Assert.True(directory.Apply(Topics.Status("hub-2"), Status("hub-2", "hubs")));
        Assert.True(directory.Apply(Topics.Status("hub-1"), Status("hub-1", "hubs")));
        Assert.False(directory.Apply(Topics.Status("tv-9"), Status("tv-9", null)));
        Assert.False(directory.Apply(Topics.Status("hub-x"), Status("hub-x", "other")));
        Assert.True(directory.Apply(Topics.Status("hub-2"), Status("hub-2", "hubs", online: false, reason: "connection lost")));

        var fleet = directory.Snapshot();
        Assert.Equal("hubs", fleet.Group);
        Assert.Equal(["hub-1", "hub-2"], fleet.Devices.Select(d => d.DeviceId));
        Assert.Equal("connection lost", fleet.Devices[1].Reason);
    }

    [Fact]
    public void A_device_that_leaves_the_group_or_whose_status_is_cleared_is_dropped()
    {
        var directory = new FleetDirectory("hubs");
        directory.Apply(Topics.Status("hub-1"), Status("hub-1", "hubs"));
        directory.Apply(Topics.Status("hub-2"), Status("hub-2", "hubs"));

        Assert.True(directory.Apply(Topics.Status("hub-1"), Status("hub-1", "kitchen")));
        Assert.True(directory.Apply(Topics.Status("hub-2"), []));
        Assert.Empty(directory.Snapshot().Devices);
    }

    [Theory]
    [InlineData("appliance/v1/hub-1/status", "{not json")]
    [InlineData("appliance/v1/hub-1/status", "null")]
    [InlineData("appliance/v1/hub-1/status", "{\"online\":true,\"deviceId\":\"hub-9\",\"fleetGroup\":\"hubs\"}")]
    [InlineData("appliance/v1/hub-1/telemetry", "{\"online\":true,\"deviceId\":\"hub-1\",\"fleetGroup\":\"hubs\"}")]
    [InlineData("appliance/v1/a/b/status", "{\"online\":true,\"deviceId\":\"a\",\"fleetGroup\":\"hubs\"}")]
    public void Unreadable_documents_and_other_topics_leave_the_view_as_it_was(string topic, string payload)
    {
        var directory = new FleetDirectory("hubs");
        directory.Apply(Topics.Status("hub-1"), Status("hub-1", "hubs"));

        Assert.False(directory.Apply(topic, System.Text.Encoding.UTF8.GetBytes(payload)));
        Assert.Equal(["hub-1"], directory.Snapshot().Devices.Select(d => d.DeviceId));
    }

    [Fact]
    public void A_document_over_the_size_limit_is_not_taken_in()
    {
        var directory = new FleetDirectory("hubs");
        var padded = Channels.Status.Serialize(new StatusDocument { Online = true, DeviceId = "hub-1", FleetGroup = "hubs", Reason = new string('x', FleetDirectory.MaxDocumentBytes) });

        Assert.False(directory.Apply(Topics.Status("hub-1"), padded));
        Assert.True(directory.Apply(Topics.Status("hub-1"), Status("hub-1", "hubs")));
    }
}
