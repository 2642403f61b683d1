using Microsoft.Extensions.Logging;
using MQTTnet.Diagnostics.Logger;

namespace Appliance.Daemon.Mqtt;

/// <summary>Routes MQTTnet's own log into the host's logging, under the "MQTTnet" category.</summary>
internal sealed class MqttNetLogAdapter(ILogger logger) : IMqttNetLogger
{
    public bool IsEnabled => logger.IsEnabled(LogLevel.Debug);

    public void Publish(MqttNetLogLevel logLevel, string source, string message, object[] parameters, Exception exception)
    {
        var level = logLevel switch
        {
            MqttNetLogLevel.Verbose => LogLevel.Trace,
            MqttNetLogLevel.Info => LogLevel.Debug,
            MqttNetLogLevel.Warning => LogLevel.Debug,
            // A broker sees broken clients every day (random bytes, dropped sockets): worth a warning, not a daemon error.
            _ => LogLevel.Warning,
        };
        if (!logger.IsEnabled(level))
        {
            return;
        }

        var text = parameters is { Length: > 0 } ? string.Format(System.Globalization.CultureInfo.InvariantCulture, message, parameters) : message;
        MqttLog.MqttNet(logger, level, source, text, exception);
    }
}
