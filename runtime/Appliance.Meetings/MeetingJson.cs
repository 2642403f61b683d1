using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Meetings;

/// <summary>
/// How the state file is written and read: System.Text.Json source generation with web defaults, nulls omitted and
/// enums as their wire names (<c>JsonStringEnumMemberName</c>). Generated, so no reflection.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, UseStringEnumConverter = true)]
[JsonSerializable(typeof(SessionStateDocument))]
internal sealed partial class MeetingJson : JsonSerializerContext;

/// <summary>The state document of a session, kept by <see cref="SessionStateFile"/> and saved on every state change.</summary>
internal sealed class SessionStateDocument
{
    public int Version { get; set; } = SessionStateFile.SealedVersion;

    public required string SessionId { get; set; }

    public required MeetingParameters Parameters { get; set; }

    public MeetingState State { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? StoppedAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public long Accepted { get; set; }

    public long Duplicates { get; set; }

    public long Late { get; set; }

    public long AfterStop { get; set; }

    public long CodecMismatches { get; set; }

    public long InvalidPayloads { get; set; }

    public long StorageRefused { get; set; }

    /// <summary>Added to every sequence number the device sends: grows each time the device numbers from 0 again.</summary>
    public long SequenceBase { get; set; }

    public long SequenceRestarts { get; set; }

    public long ReleasedThrough { get; set; } = -1;

    public TimeSpan TranscribedThrough { get; set; }

    public List<SequenceGap> Gaps { get; set; } = [];
}
