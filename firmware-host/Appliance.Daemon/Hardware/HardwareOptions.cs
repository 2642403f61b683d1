using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Hardware;

/// <summary>The <c>Simulation</c> section: how simulated hardware behaves on boards (or tests) without it.</summary>
internal sealed class SimulationOptions
{
    public const string Section = "Simulation";

    public int Seed { get; set; } = 1;

    [Range(0.0, 1.0)]
    public double ChecksumFailureRate { get; set; } = 0.05;

    [Range(-40.0, 85.0)]
    public double BaseTemperatureC { get; set; } = 21.5;

    [Range(0.0, 100.0)]
    public double BaseHumidityPercent { get; set; } = 45;
}

[OptionsValidator]
internal sealed partial class SimulationOptionsValidator : IValidateOptions<SimulationOptions>;
