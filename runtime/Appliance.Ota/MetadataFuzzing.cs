namespace Appliance.Ota;

/// <summary>The metadata parsers as a device runs them on a downloaded file, for the fuzzer (<c>tools/Fuzz</c>, target <c>ota</c>).</summary>
internal static class MetadataFuzzing
{
    /// <summary>
    /// Parses <paramref name="file"/> as the role <paramref name="role"/> picks (0 root, 1 targets, 2 snapshot, 3 timestamp,
    /// modulo 4); root metadata is also checked and verified against its own keys, as a new root is.
    /// </summary>
    /// <exception cref="OtaRefusedException">The file is refused, as the device refuses it.</exception>
    public static void Read(byte role, ReadOnlySpan<byte> file)
    {
        switch (role % 4)
        {
            case 0:
                var root = MetadataFile.Parse("root.json", file, Roles.Root, OtaJson.Default.RootMetadata);
                MetadataFile.CheckRoot(root.FileName, root.Signed);
                MetadataFile.RequireThreshold(root, root.Signed, Roles.Root);
                break;
            case 1:
                MetadataFile.Parse("targets.json", file, Roles.Targets, OtaJson.Default.TargetsMetadata);
                break;
            case 2:
                MetadataFile.Parse("snapshot.json", file, Roles.Snapshot, OtaJson.Default.SnapshotMetadata);
                break;
            default:
                MetadataFile.Parse("timestamp.json", file, Roles.Timestamp, OtaJson.Default.TimestampMetadata);
                break;
        }
    }
}
