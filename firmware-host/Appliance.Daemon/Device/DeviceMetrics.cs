using System.Diagnostics;
using System.Diagnostics.Metrics;
using Appliance.Contracts;

namespace Appliance.Daemon.Device;

/// <summary>
/// The daemon's figures for operators, kept in one place: the load in the status document (<see cref="Load"/>) and the
/// instruments of the <see cref="MeterName"/> meter, which OpenTelemetry exports when the operator turns an exporter on.
/// The features that own a figure hand over how to read it (<see cref="ObserveMeetings"/>, <see cref="ObserveMeetingFrames"/>,
/// <see cref="ObserveRpc"/>) once, from their constructors, which the host runs before anything reads; the readers run
/// on the metrics exporter's and the status publisher's threads. Thread-safe.
/// </summary>
internal sealed class DeviceMetrics
{
    /// <summary>The name of the meter every instrument of the daemon belongs to.</summary>
    public const string MeterName = "Appliance.Daemon";

    /// <summary>Bucket bounds of the real-time factor histogram (processing seconds per second of audio).</summary>
    private static readonly double[] RealTimeFactorBounds = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5];

    /// <summary>Bucket bounds of the decode rate histogram, in tokens per second.</summary>
    private static readonly double[] DecodeRateBounds = [1, 2, 5, 10, 15, 20, 30, 50, 75, 100, 200];

    private readonly Lock _cpuGate = new();
    private readonly Histogram<double> _decodeRate;
    private readonly Histogram<double> _realTimeFactor;
    private Func<int> _openMeetings = () => 0;
    private int _meetingCapacity;
    private Func<long> _framesAccepted = () => 0;
    private Func<long> _framesLost = () => 0;
    private Func<int> _rpcRunning = () => 0;
    private Func<int> _rpcQueued = () => 0;
    private long _cpuSampledAt;
    private TimeSpan _cpuAtSample;
    private double _cpuPercent;

    /// <summary>Creates the meter and its instruments.</summary>
    /// <param name="meters">The host's meter factory, which owns the meter.</param>
    public DeviceMetrics(IMeterFactory meters)
    {
        _cpuSampledAt = Stopwatch.GetTimestamp();
        _cpuAtSample = Environment.CpuUsage.TotalTime;
        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("appliance.meetings.open", () => Volatile.Read(ref _openMeetings)(), "{meeting}", "Meetings open now, each an incoming audio stream");
        meter.CreateObservableGauge("appliance.meetings.capacity", () => Volatile.Read(ref _meetingCapacity), "{meeting}", "Meetings the device takes at once");
        meter.CreateObservableGauge("appliance.rpc.running", () => Volatile.Read(ref _rpcRunning)(), "{request}", "Requests being served now");
        meter.CreateObservableGauge("appliance.rpc.queue.depth", () => Volatile.Read(ref _rpcQueued)(), "{request}", "Requests waiting for a worker");
        meter.CreateObservableCounter("appliance.meetings.frames.accepted", () => Volatile.Read(ref _framesAccepted)(), "{frame}", "Meeting audio frames journaled");
        meter.CreateObservableCounter("appliance.meetings.frames.lost", () => Volatile.Read(ref _framesLost)(), "{frame}", "Meeting audio frames that never arrived, counted when each meeting stops (its gaps)");
        _decodeRate = meter.CreateHistogram("appliance.llm.decode.rate", "{token}/s", "Decode speed of each llm.chat generation", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = DecodeRateBounds });
        _realTimeFactor = meter.CreateHistogram("appliance.asr.real_time_factor", "1", "Processing time over audio length of each asr.transcribe request (below 1 is faster than real time)", tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = RealTimeFactorBounds });
    }

    /// <summary>Hands over how to count open meetings (read from other threads), and the capacity; once, at construction.</summary>
    public void ObserveMeetings(Func<int> open, int capacity)
    {
        Volatile.Write(ref _openMeetings, open);
        Volatile.Write(ref _meetingCapacity, capacity);
    }

    /// <summary>Hands over how to read the meeting frames journaled and lost since the start (read from other threads); once, at construction.</summary>
    public void ObserveMeetingFrames(Func<long> accepted, Func<long> lost)
    {
        Volatile.Write(ref _framesAccepted, accepted);
        Volatile.Write(ref _framesLost, lost);
    }

    /// <summary>Hands over how to count the requests being served and waiting (read from other threads); once, at construction.</summary>
    public void ObserveRpc(Func<int> running, Func<int> queued)
    {
        Volatile.Write(ref _rpcRunning, running);
        Volatile.Write(ref _rpcQueued, queued);
    }

    /// <summary>Records a finished generation's decode speed, in tokens per second.</summary>
    /// <summary>Raised after every answered request with its method and error code (null for a success); on the dispatcher's thread.</summary>
    public event Action<string, string?>? RequestCompleted;

    /// <summary>Counts an answered request of <paramref name="method"/>: <paramref name="errorCode"/> is the reply's error code, or null for a result.</summary>
    public void RecordRequest(string method, string? errorCode) => RequestCompleted?.Invoke(method, errorCode);

    public void RecordDecodeRate(double tokensPerSecond) => _decodeRate.Record(tokensPerSecond);

    /// <summary>Records a finished transcription's real-time factor (processing seconds per second of audio).</summary>
    public void RecordRealTimeFactor(double realTimeFactor) => _realTimeFactor.Record(realTimeFactor);

    /// <summary>
    /// Measures the daemon's CPU time since the previous sample, in percent of all cores: the status publisher calls it
    /// once per document, so <see cref="DeviceLoad.CpuPercent"/> covers the time between two documents.
    /// </summary>
    public void SampleCpu()
    {
        lock (_cpuGate)
        {
            var now = Stopwatch.GetTimestamp(); // real time: CPU time is real whatever the daemon's clock
            var cpu = Environment.CpuUsage.TotalTime;
            var wall = Stopwatch.GetElapsedTime(_cpuSampledAt, now);
            _cpuPercent = wall > TimeSpan.Zero ? Math.Round(Math.Clamp((cpu - _cpuAtSample) / wall / Environment.ProcessorCount * 100, 0, 100), 1) : 0;
            (_cpuSampledAt, _cpuAtSample) = (now, cpu);
        }
    }

    /// <summary>
    /// The load now, with the CPU figure of the latest <see cref="SampleCpu"/>. A request that asks for it (status.get,
    /// fleet.status) counts itself among the running ones.
    /// </summary>
    public DeviceLoad Load()
    {
        double cpuPercent;
        lock (_cpuGate)
        {
            cpuPercent = _cpuPercent;
        }

        return new DeviceLoad(Volatile.Read(ref _openMeetings)(), Volatile.Read(ref _meetingCapacity), Volatile.Read(ref _rpcRunning)(), Volatile.Read(ref _rpcQueued)(), cpuPercent);
    }
}
