using System.Text.Json;

namespace Appliance.Contracts;

/// <summary>
/// The devices of one fleet group, folded from the retained status documents on <see cref="Topics.StatusFilter"/>:
/// a device is listed while its latest document names the group (the last will and an orderly stop do too, so a lost
/// hub stays listed as offline with its reason) and dropped when a document names another group, none, or the
/// retained status is cleared. Used by every hub for <c>fleet.status</c> and by the operators' fleet view.
/// Thread-safe.
/// </summary>
/// <param name="group">The fleet group (see <see cref="Identifiers.IsValidDeviceId"/>).</param>
public sealed class FleetDirectory(string group)
{
    /// <summary>The largest status document taken in, in bytes: a daemon's is about 2 KiB; anything far larger is not one.</summary>
    public const int MaxDocumentBytes = 64 * 1024;

    private readonly Dictionary<string, StatusDocument> _devices = new(StringComparer.Ordinal);

    /// <summary>The fleet group.</summary>
    public string Group { get; } = group;

    /// <summary>Takes in one message received on <see cref="Topics.StatusFilter"/>.</summary>
    /// <param name="topic">The topic it came on; other topics are ignored.</param>
    /// <param name="payload">The status document, or empty when the retained status was cleared.</param>
    /// <returns>
    /// True when the view changed; false for other topics, other groups' documents and unreadable payloads (a document
    /// whose device id is not its topic's, or one over <see cref="MaxDocumentBytes"/>, counts as unreadable).
    /// </returns>
    public bool Apply(string topic, ReadOnlySpan<byte> payload)
    {
        if (!Topics.TryGetStatusDevice(topic, out var deviceId) || payload.Length > MaxDocumentBytes)
        {
            return false;
        }

        StatusDocument? status = null;
        if (!payload.IsEmpty)
        {
            try
            {
                status = JsonSerializer.Deserialize(payload, Channels.Status.PayloadInfo);
            }
            catch (JsonException)
            {
                return false;
            }

            if (status is null || status.DeviceId != deviceId)
            {
                return false;
            }
        }

        lock (_devices)
        {
            if (status is not null && status.FleetGroup == Group)
            {
                _devices[deviceId] = status;
                return true;
            }

            return _devices.Remove(deviceId);
        }
    }

    /// <summary>Takes in a device's own document as it stands now, fresher than its retained copy.</summary>
    /// <param name="status">A status document of this group (not checked: the caller is the group's own hub).</param>
    public void Apply(StatusDocument status)
    {
        ArgumentNullException.ThrowIfNull(status);
        lock (_devices)
        {
            _devices[status.DeviceId] = status;
        }
    }

    /// <summary>Every device listed now, ordered by device id.</summary>
    public FleetStatusResult Snapshot()
    {
        lock (_devices)
        {
            return new FleetStatusResult(Group, [.. _devices.Values.OrderBy(d => d.DeviceId, StringComparer.Ordinal)]);
        }
    }
}
