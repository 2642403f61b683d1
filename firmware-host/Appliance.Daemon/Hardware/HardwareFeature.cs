using Appliance.Profiles;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon.Hardware;

/// <summary>The board's hardware: GPIO (status LED, push-to-talk button) and the climate sensors' telemetry.</summary>
internal static class HardwareFeature
{
    public static IServiceCollection AddHardware(this IServiceCollection services, IConfiguration configuration, DeviceProfile profile)
    {
        services.AddValidatedOptions<SimulationOptions, SimulationOptionsValidator>(configuration, SimulationOptions.Section);
        services.AddSingleton(sp => new BoardHardware(profile, sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService<HardwareService>();
        services.AddSingleton<SensorReadings>();
        services.AddHostedService<TelemetryService>();
        return services;
    }
}
