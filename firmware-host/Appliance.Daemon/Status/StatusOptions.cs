using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Status;

/// <summary>The <c>Status</c> configuration section.</summary>
internal sealed class StatusOptions
{
    public const string Section = "Status";

    /// <summary>How often the retained status is refreshed (uptime, health) between change-driven updates.</summary>
    [Range(1, 86_400)]
    public int RefreshSeconds { get; set; } = 60;
}

[OptionsValidator]
internal sealed partial class StatusOptionsValidator : IValidateOptions<StatusOptions>;
