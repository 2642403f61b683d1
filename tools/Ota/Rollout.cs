namespace Appliance.OtaTool;

/// <summary>
/// How a staged rollout proceeds, with the fields of AWS IoT Jobs' job configuration: a constant rate
/// (<c>maximumPerMinute</c>) or an exponential one (<c>exponentialRate</c>: a base rate per minute, an increment factor,
/// and the number of succeeded devices that raises it), an abort threshold (<c>abortConfig</c>: the failed percentage
/// of executed devices, once a minimum number has executed), and an in-progress time-out (<c>timeoutConfig</c>).
/// </summary>
internal sealed record RolloutPolicy
{
    /// <summary>Devices told per minute at the start (and throughout, without an increment factor).</summary>
    public required double RatePerMinute { get; init; }

    /// <summary>The factor the rate grows by each time <see cref="IncreaseAfterSucceeded"/> more devices succeeded; 1 for a constant rate.</summary>
    public double IncrementFactor { get; init; } = 1;

    /// <summary>Succeeded devices between two rate increases.</summary>
    public int IncreaseAfterSucceeded { get; init; } = 1;

    /// <summary>The rate never grows past this, per minute.</summary>
    public double MaxRatePerMinute { get; init; } = 1000;

    /// <summary>The rollout stops telling devices once more than this share of executed devices failed, in percent.</summary>
    public double AbortFailedPercent { get; init; } = 100;

    /// <summary>Executed devices (succeeded or failed) before the abort threshold applies.</summary>
    public int AbortMinExecuted { get; init; } = 1;

    /// <summary>A told device that reached no final stage within this span counts as failed (timed out).</summary>
    public TimeSpan InProgressTimeout { get; init; } = TimeSpan.FromMinutes(30);
}

/// <summary>Where one device of a rollout stands.</summary>
internal enum RolloutState
{
    /// <summary>Not told yet.</summary>
    Queued,

    /// <summary>Told (<c>ota.update</c>); its update runs.</summary>
    InProgress,

    /// <summary>Committed, or already up to date.</summary>
    Succeeded,

    /// <summary>Refused, rolled back, the request failed, or timed out.</summary>
    Failed,

    /// <summary>Never told: the rollout was aborted first.</summary>
    NotStarted,
}

/// <summary>
/// The bookkeeping of a staged rollout, apart from MQTT and clocks: who is told next and when, what each outcome does
/// to the rate, and when to abort. Not thread-safe; the rollout loop owns it.
/// </summary>
internal sealed class RolloutPlan(IReadOnlyList<string> devices, RolloutPolicy policy)
{
    private readonly Dictionary<string, (RolloutState State, TimeSpan ToldAt, string? Note)> _devices = devices.ToDictionary(d => d, _ => (RolloutState.Queued, TimeSpan.Zero, (string?)null), StringComparer.Ordinal);
    private readonly Queue<string> _queue = new(devices);
    private TimeSpan _nextAt = TimeSpan.Zero;
    private int _succeededAtLastIncrease;

    /// <summary>The current rate, devices per minute.</summary>
    public double RatePerMinute { get; private set; } = policy.RatePerMinute;

    /// <summary>Why the rollout was aborted, or null.</summary>
    public string? Aborted { get; private set; }

    /// <summary>Whether every device reached a final state (or was left out by an abort).</summary>
    public bool Done => _devices.Values.All(d => d.State is RolloutState.Succeeded or RolloutState.Failed or RolloutState.NotStarted);

    public int Count(RolloutState state) => _devices.Values.Count(d => d.State == state);

    public IEnumerable<(string Device, RolloutState State, string? Note)> Devices() => devices.Select(d => (d, _devices[d].State, _devices[d].Note));

    /// <summary>The device to tell now, if the rate allows one at <paramref name="now"/> (time since the rollout began).</summary>
    public string? NextDue(TimeSpan now)
    {
        if (Aborted is not null || _queue.Count == 0 || now < _nextAt)
        {
            return null;
        }

        var device = _queue.Dequeue();
        _devices[device] = (RolloutState.InProgress, now, null);
        _nextAt = (now > _nextAt ? now : _nextAt) + TimeSpan.FromMinutes(1 / RatePerMinute);
        return device;
    }

    /// <summary>Records a device's outcome; a failure may abort the rollout, a success may raise the rate.</summary>
    public void Finish(string device, bool succeeded, string? note)
    {
        if (!_devices.TryGetValue(device, out var entry) || entry.State != RolloutState.InProgress)
        {
            return;
        }

        _devices[device] = (succeeded ? RolloutState.Succeeded : RolloutState.Failed, entry.ToldAt, note);
        var succeededCount = Count(RolloutState.Succeeded);
        if (succeeded && policy.IncrementFactor > 1 && succeededCount - _succeededAtLastIncrease >= policy.IncreaseAfterSucceeded)
        {
            _succeededAtLastIncrease = succeededCount;
            RatePerMinute = Math.Min(policy.MaxRatePerMinute, RatePerMinute * policy.IncrementFactor);
        }

        var failed = Count(RolloutState.Failed);
        var executed = succeededCount + failed;
        if (Aborted is null && executed >= policy.AbortMinExecuted && failed * 100.0 / executed > policy.AbortFailedPercent)
        {
            Aborted = $"{failed} of {executed} executed devices failed ({failed * 100.0 / executed:0.#} % > {policy.AbortFailedPercent:0.#} %)";
            while (_queue.TryDequeue(out var left))
            {
                _devices[left] = (RolloutState.NotStarted, TimeSpan.Zero, "not told: the rollout was aborted");
            }
        }
    }

    /// <summary>Fails every device told more than the in-progress time-out before <paramref name="now"/>.</summary>
    public void ExpireAt(TimeSpan now)
    {
        foreach (var (device, entry) in _devices.Where(d => d.Value.State == RolloutState.InProgress && now - d.Value.ToldAt > policy.InProgressTimeout).ToList())
        {
            Finish(device, false, $"timed out: no final stage within {policy.InProgressTimeout.TotalMinutes:0.#} minutes");
        }
    }
}
