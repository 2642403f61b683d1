using System.Diagnostics;
using System.Diagnostics.Metrics;
using Appliance.Contracts;

namespace Appliance.Daemon.Device;

/// <summary>
/// The daemon's figures for operators, kept in one place: the load in the status document (<see cref="Load"/>) and the
/// instruments of the <see cref="MeterName"/> meter, which OpenTelemetry exports when the operator turns an exporter on.
/// Features hand over what they own (<see cref="ObserveMeetings"/>, <see cref="ObserveRpc"/>). Thread-safe.
/// </summary>
internal sealed class DeviceMetrics
{
    /// <summary>The name of the meter every instrument of the daemon belongs to.</summary>
    public const string MeterName = "Appliance.Daemon";

    private readonly Lock _gate = new();
    private Func<int> _openMeetings = () => 0;
    private int _meetingCapacity;
    private Func<int> _rpcRunning = () => 0;
    private Func<int> _rpcQueued = () => 0;
    private Func<long> _framesAccepted = () => 0;
    private Func<long> _framesLost = () => 0;
    private readonly Histogram<double> _decodeRate;
    private readonly Histogram<double> _realTimeFactor;
    private long _cpuSampledAt;
    private TimeSpan _cpuAtSample;

    public DeviceMetrics(IMeterFactory meters)
    {
        _cpuSampledAt = Stopwatch.GetTimestamp();
        _cpuAtSample = Process.GetCurrentProcess().TotalProcessorTime;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("appliance.meetings.open", () => _openMeetings(), "{meeting}", "Meetings open now, each an incoming audio stream");
        meter.CreateObservableGauge("appliance.meetings.capacity", () => Volatile.Read(ref _meetingCapacity), "{meeting}", "Meetings the device takes at once");
        meter.CreateObservableGauge("appliance.rpc.running", () => _rpcRunning(), "{request}", "Requests being served now");
        meter.CreateObservableGauge("appliance.rpc.queue.depth", () => _rpcQueued(), "{request}", "Requests waiting for a worker");
        meter.CreateObservableCounter("appliance.meetings.frames.accepted", () => _framesAccepted(), "{frame}", "Meeting audio frames journaled");
        meter.CreateObservableCounter("appliance.meetings.frames.lost", () => _framesLost(), "{frame}", "Meeting audio frames that never arrived, counted when each meeting stops (its gaps)");
        _decodeRate = meter.CreateHistogram<double>("appliance.llm.decode.rate", "{token}/s", "Decode speed of each llm.chat generation");
        _realTimeFactor = meter.CreateHistogram<double>("appliance.asr.real_time_factor", "1", "Processing time over audio length of each asr.transcribe request (below 1 is faster than real time)");
    }

    /// <summary>Hands over the count of open meetings (called from the metrics and status threads) and the capacity.</summary>
    public void ObserveMeetings(Func<int> open, int capacity)
    {
        _openMeetings = open;
        Volatile.Write(ref _meetingCapacity, capacity);
    }

    /// <summary>Hands over the meeting frames journaled and lost since the start (called from the metrics thread).</summary>
    public void ObserveMeetingFrames(Func<long> accepted, Func<long> lost)
    {
        _framesAccepted = accepted;
        _framesLost = lost;
    }

    /// <summary>Records a finished generation's decode speed, in tokens per second.</summary>
    public void RecordDecodeRate(double tokensPerSecond) => _decodeRate.Record(tokensPerSecond);

    /// <summary>Records a finished transcription's real-time factor (processing seconds per second of audio).</summary>
    public void RecordRealTimeFactor(double realTimeFactor) => _realTimeFactor.Record(realTimeFactor);

    /// <summary>Hands over the counts of requests being served and waiting (called from the metrics and status threads).</summary>
    public void ObserveRpc(Func<int> running, Func<int> queued)
    {
        _rpcRunning = running;
        _rpcQueued = queued;
    }

    /// <summary>The load now; its CPU figure covers the time since the previous call (or since the start).</summary>
    public DeviceLoad Load()
    {
        double cpuPercent;
        lock (_gate)
        {
            var now = Stopwatch.GetTimestamp(); // real time: CPU time is real whatever the daemon's clock
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var wall = Stopwatch.GetElapsedTime(_cpuSampledAt, now);
            cpuPercent = wall > TimeSpan.Zero ? Math.Clamp((cpu - _cpuAtSample) / wall / Environment.ProcessorCount * 100, 0, 100) : 0;
            (_cpuSampledAt, _cpuAtSample) = (now, cpu);
        }

        return new DeviceLoad(_openMeetings(), Volatile.Read(ref _meetingCapacity), _rpcRunning(), _rpcQueued(), Math.Round(cpuPercent, 1));
    }
}
