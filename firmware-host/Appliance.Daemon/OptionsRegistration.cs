using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon;

/// <summary>How every feature registers its configuration section: bound, and validated when the host starts.</summary>
internal static class OptionsRegistration
{
    /// <summary>
    /// Binds <typeparamref name="TOptions"/> to <paramref name="section"/> and validates it at start (a bad value stops
    /// the start with exit code 2); the section's keys are then known to <see cref="ConfigurationKeys"/>.
    /// </summary>
    public static IServiceCollection AddValidatedOptions<
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor | DynamicallyAccessedMemberTypes.PublicProperties)] TOptions,
        [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TValidator>(this IServiceCollection services, IConfiguration configuration, string section)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        services.AddOptions<TOptions>().Bind(configuration.GetSection(section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<TOptions>, TValidator>();
        return services.AddKnownSection<TOptions>(section);
    }

    /// <summary>Declares a section read without options binding (its keys bind to <typeparamref name="TOptions"/>).</summary>
    public static IServiceCollection AddKnownSection<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] TOptions>(this IServiceCollection services, string section) =>
        services.AddSingleton(new KnownConfigurationSection(section, typeof(TOptions)));
}
