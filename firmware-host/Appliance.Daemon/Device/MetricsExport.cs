using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Appliance.Daemon.Device;

/// <summary>The <c>Metrics</c> configuration section: where OpenTelemetry sends the daemon's figures. Both exporters are off by default.</summary>
internal sealed class MetricsOptions
{
    /// <summary>The configuration section's name.</summary>
    public const string Section = "Metrics";

    /// <summary>An OTLP collector to push to, such as <c>http://collector:4317</c> (gRPC) or <c>http://collector:4318/v1/metrics</c> (HTTP); null for none.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary><c>grpc</c> or <c>http/protobuf</c> (the OTLP specification's names).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Seconds between pushes to the collector.</summary>
    public int OtlpIntervalSeconds { get; set; } = 60;

    /// <summary>Port of a Prometheus scrape endpoint (<c>/metrics</c>); null for none.</summary>
    public int? PrometheusPort { get; set; }

    /// <summary>Host the scrape endpoint listens on: <c>localhost</c>, or <c>*</c> for every interface.</summary>
    public string PrometheusHost { get; set; } = "localhost";
}

/// <summary>Checks the <c>Metrics</c> section: an absolute http(s) endpoint, a known protocol, an interval, a port and a host.</summary>
internal sealed class MetricsOptionsValidator : IValidateOptions<MetricsOptions>
{
    /// <summary>Every problem of <paramref name="options"/>, each naming its key and the rule.</summary>
    public ValidateOptionsResult Validate(string? name, MetricsOptions options)
    {
        var problems = new List<string>();
        if (options.OtlpEndpoint is { } endpoint && !MetricsExport.TryEndpoint(endpoint, out _))
        {
            problems.Add($"Metrics:OtlpEndpoint '{endpoint}' is not an absolute http:// or https:// address.");
        }

        if (!MetricsExport.TryProtocol(options.OtlpProtocol, out _))
        {
            problems.Add($"Metrics:OtlpProtocol '{options.OtlpProtocol}' is not grpc or http/protobuf.");
        }

        if (options.OtlpIntervalSeconds is < 1 or > 3600)
        {
            problems.Add($"Metrics:OtlpIntervalSeconds {options.OtlpIntervalSeconds} is outside 1–3600.");
        }

        if (options.PrometheusPort is < 1 or > 65535)
        {
            problems.Add($"Metrics:PrometheusPort {options.PrometheusPort} is outside 1–65535.");
        }

        if (!MetricsExport.IsListenerHost(options.PrometheusHost))
        {
            problems.Add($"Metrics:PrometheusHost '{options.PrometheusHost}' is not a host name, an IPv4 address, an IPv6 address in brackets ([::1]) or '*'.");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

/// <summary>
/// Exports the <see cref="DeviceMetrics.MeterName"/> meter through OpenTelemetry .NET: to an OTLP collector, and/or on a
/// Prometheus scrape endpoint, as the <c>Metrics</c> section says; neither runs unless configured. The resource names
/// the service <c>appliance-daemon</c>, its version, and the device id as its instance.
/// </summary>
internal static class MetricsExport
{
    /// <summary>Registers the <c>Metrics</c> section and, when it asks for one, the OpenTelemetry meter provider with its exporters.</summary>
    /// <param name="services">The daemon's services.</param>
    /// <param name="configuration">The configuration holding the <c>Metrics</c> section.</param>
    /// <param name="deviceId">The device id: the resource's <c>service.instance.id</c>.</param>
    /// <param name="version">The daemon's version: the resource's <c>service.version</c>.</param>
    public static IServiceCollection AddMetricsExport(this IServiceCollection services, IConfiguration configuration, string deviceId, string version)
    {
        services.AddValidatedOptions<MetricsOptions, MetricsOptionsValidator>(configuration, MetricsOptions.Section);
        var options = configuration.GetSection(MetricsOptions.Section).Get<MetricsOptions>() ?? new MetricsOptions();
        Uri? otlp = options.OtlpEndpoint is { } endpoint && TryEndpoint(endpoint, out var uri) ? uri : null;
        if ((otlp is null && options.PrometheusPort is null) || new MetricsOptionsValidator().Validate(null, options).Failed)
        {
            return services; // nothing to export, or a bad setting that stops the start with its reason
        }

        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("appliance-daemon", serviceVersion: version, serviceInstanceId: deviceId, autoGenerateServiceInstanceId: false))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(DeviceMetrics.MeterName);
                if (otlp is not null && TryProtocol(options.OtlpProtocol, out var protocol))
                {
                    metrics.AddOtlpExporter((exporter, reader) =>
                    {
                        exporter.Endpoint = otlp;
                        exporter.Protocol = protocol;
                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.OtlpIntervalSeconds * 1000;
                    });
                }

                if (options.PrometheusPort is { } port)
                {
                    metrics.AddPrometheusHttpListener(listener =>
                    {
                        listener.Host = options.PrometheusHost;
                        listener.Port = port;
                        listener.ScrapeResponseCacheDurationMilliseconds = 0; // every scrape reads the figures as they stand
                    });
                }
            });
        return services;
    }

    /// <summary>Whether <paramref name="host"/> can go in an HTTP listener's prefix: <c>*</c>, a DNS name, an IPv4 address or a bracketed IPv6 one.</summary>
    internal static bool IsListenerHost(string? host) =>
        host is "*" or "+"
        || (host is ['[', .., ']'] && System.Net.IPAddress.TryParse(host[1..^1], out var v6) && v6.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        || (host is { Length: > 0 } && Uri.CheckHostName(host) is UriHostNameType.Dns or UriHostNameType.IPv4);

    /// <summary>Reads an OTLP endpoint: an absolute http:// or https:// address.</summary>
    internal static bool TryEndpoint(string text, out Uri uri) =>
        Uri.TryCreate(text, UriKind.Absolute, out uri!) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    /// <summary>Reads an OTLP protocol by the specification's name (<c>grpc</c>, <c>http/protobuf</c>).</summary>
    internal static bool TryProtocol(string text, out OtlpExportProtocol protocol)
    {
        (var known, protocol) = text switch
        {
            "grpc" => (true, OtlpExportProtocol.Grpc),
            "http/protobuf" => (true, OtlpExportProtocol.HttpProtobuf),
            _ => (false, OtlpExportProtocol.Grpc),
        };
        return known;
    }
}
