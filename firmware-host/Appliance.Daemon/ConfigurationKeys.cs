using System.Collections;
using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.Configuration.Json;
using Microsoft.Extensions.DependencyInjection;

namespace Appliance.Daemon;

/// <summary>A configuration section the daemon reads, and the options type its keys bind to.</summary>
/// <param name="Name">The section's name, for example <c>Mqtt</c>.</param>
/// <param name="OptionsType">The class its keys bind to.</param>
internal sealed record KnownConfigurationSection(
    string Name,
    [property: DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)][param: DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicProperties)] Type OptionsType);

/// <summary>
/// Refuses configuration keys the daemon does not know, so that a typo cannot quietly leave a setting at its default
/// (a misspelt <c>Mqtt:Broker:Authentication:Enabled</c> would leave the broker open). Every key of appsettings.json and
/// of the command line must name a property of a registered section (<see cref="KnownConfigurationSection"/>, from
/// <see cref="OptionsRegistration"/>), a top-level setting the daemon reads, or the hosting framework's own
/// <c>Logging</c>. Environment variables are shared with every other program, so only those in a section of the daemon
/// are checked. Case does not matter, as for configuration binding.
/// </summary>
internal static class ConfigurationKeys
{
    /// <summary>Top-level settings read directly, and sections the hosting framework owns.</summary>
    private static readonly HashSet<string> s_topLevel = new(StringComparer.OrdinalIgnoreCase) { "Profile", "ProfilesDirectory" };
    private static readonly HashSet<string> s_frameworkSections = new(StringComparer.OrdinalIgnoreCase) { "Logging" };

    /// <summary>One line per key that no known setting has, naming where it came from; empty when all are known.</summary>
    public static IReadOnlyList<string> Unknown(IConfigurationRoot configuration, IServiceCollection services)
    {
        var sections = KnownSections(services);
        var problems = new List<string>();
        foreach (var provider in configuration.Providers)
        {
            var (origin, everyKey) = provider switch
            {
                JsonConfigurationProvider json => (json.Source.Path ?? "a JSON file", true),
                CommandLineConfigurationProvider => ("the command line", true),
                EnvironmentVariablesConfigurationProvider => ("the environment", false),
                _ => (null, false),
            };
            if (origin is null)
            {
                continue; // host defaults and settings made in code
            }

            foreach (var key in LeafKeys(provider, null))
            {
                var segments = key.Split(ConfigurationPath.KeyDelimiter);
                if (s_frameworkSections.Contains(segments[0]) || (segments.Length == 1 && s_topLevel.Contains(segments[0])))
                {
                    continue;
                }

                if (sections.TryGetValue(segments[0], out var section))
                {
                    if (!Binds(section.OptionsType, segments.AsSpan(1)))
                    {
                        problems.Add($"{origin}: '{key}' is not a setting of the {segments[0]} section (check its spelling)");
                    }
                }
                else if (everyKey)
                {
                    problems.Add($"{origin}: '{key}' is not a setting the daemon knows (check its spelling)");
                }
            }
        }

        return [.. problems.Distinct(StringComparer.Ordinal)]; // the host reads the command line twice (host and app settings)
    }

    /// <summary>The sections registered in <paramref name="services"/>, by name (case ignored).</summary>
    public static Dictionary<string, KnownConfigurationSection> KnownSections(IServiceCollection services) =>
        services
            .Where(d => d.ServiceType == typeof(KnownConfigurationSection) && d.ImplementationInstance is KnownConfigurationSection)
            .Select(d => (KnownConfigurationSection)d.ImplementationInstance!)
            .ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether the key path below a section binds to a property of <paramref name="type"/>.</summary>
    private static bool Binds(Type type, ReadOnlySpan<string> path)
    {
        if (path.IsEmpty)
        {
            return true;
        }

        if (IsScalar(type))
        {
            return false;
        }

        if (ElementType(type) is { } element)
        {
            // A list's keys are indexes; a dictionary's are any names.
            var isDictionary = type.IsGenericType && type.GetGenericArguments().Length == 2;
            return (isDictionary || int.TryParse(path[0], out _)) && Binds(element, path[1..]);
        }

        var property = type.GetProperty(path[0], BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        return property is not null && Binds(property.PropertyType, path[1..]);
    }

    private static bool IsScalar(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal) || t == typeof(TimeSpan) || t == typeof(DateTimeOffset) || t == typeof(Guid) || t == typeof(Uri);
    }

    /// <summary>The element (or dictionary value) type of a collection, or null for an object.</summary>
    private static Type? ElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        if (!type.IsGenericType || !typeof(IEnumerable).IsAssignableFrom(type))
        {
            return null;
        }

        var arguments = type.GetGenericArguments();
        return arguments.Length == 2 ? arguments[1] : arguments[0];
    }

    private static IEnumerable<string> LeafKeys(IConfigurationProvider provider, string? parent)
    {
        foreach (var child in provider.GetChildKeys([], parent).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var path = parent is null ? child : ConfigurationPath.Combine(parent, child);
            var hasChildren = provider.GetChildKeys([], path).Any();
            if (!hasChildren)
            {
                yield return path;
            }
            else
            {
                foreach (var leaf in LeafKeys(provider, path))
                {
                    yield return leaf;
                }
            }
        }
    }
}
