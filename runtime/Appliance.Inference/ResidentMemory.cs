using System.Globalization;

namespace Appliance.Inference;

/// <summary>
/// This process's resident set, read from <c>/proc/self/statm</c> (its second field, in pages; proc(5)): one small
/// read, no <see cref="System.Diagnostics.Process"/> object. The daemon reads it for every health snapshot; through
/// <c>Process</c> the runtime recompiled <c>Process</c>'s methods after their 30th call and loaded another assembly
/// half an hour into the soak (docs/benchmarks.md, Soak). Thread-safe.
/// </summary>
public static class ResidentMemory
{
    private const string StatmPath = "/proc/self/statm";

    /// <summary>The resident set in bytes; where <c>/proc</c> is missing or unreadable, <see cref="Environment.WorkingSet"/>.</summary>
    public static long Bytes()
    {
        if (OperatingSystem.IsLinux() && TryReadStatm(out var residentPages))
        {
            return residentPages * Environment.SystemPageSize;
        }

        return Environment.WorkingSet;
    }

    private static bool TryReadStatm(out long residentPages)
    {
        residentPages = 0;
        Span<byte> buffer = stackalloc byte[128];
        int length;
        try
        {
            using var file = File.OpenHandle(StatmPath);
            length = RandomAccess.Read(file, buffer, 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }

        // "size resident shared text lib data dt", in pages.
        var text = buffer[..length];
        var firstSpace = text.IndexOf((byte)' ');
        if (firstSpace < 0)
        {
            return false;
        }

        var rest = text[(firstSpace + 1)..];
        var secondSpace = rest.IndexOf((byte)' ');
        return long.TryParse(secondSpace < 0 ? rest : rest[..secondSpace], NumberStyles.None, CultureInfo.InvariantCulture, out residentPages);
    }
}
