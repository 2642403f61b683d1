using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Device;

/// <summary>The <c>Memory</c> configuration section.</summary>
internal sealed class MemoryOptions
{
    public const string Section = "Memory";

    /// <summary>Seconds between two trims of the C library's heap (see <see cref="NativeHeapTrimmer"/>); 0 turns trimming off.</summary>
    [Range(0, 3600)]
    public int TrimIntervalSeconds { get; set; } = 60;
}

[OptionsValidator]
internal sealed partial class MemoryOptionsValidator : IValidateOptions<MemoryOptions>;
