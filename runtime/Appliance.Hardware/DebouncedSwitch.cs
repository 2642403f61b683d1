using System.Device.Gpio;

namespace Appliance.Hardware;

/// <summary>
/// A switch on one GPIO input, debounced in software: the push-to-talk button (closed while pressed) or a door's
/// contact (closed while the door is shut). Every edge restarts a quiet-time timer, and only a level that holds for the
/// whole debounce time counts as the switch closing or opening. Events are raised on the timer's thread. Owns neither
/// the controller nor the time provider.
/// </summary>
public sealed class DebouncedSwitch : IDisposable
{
    private readonly GpioController _controller;
    private readonly int _pin;
    private readonly bool _activeLow;
    private readonly TimeSpan _debounce;
    private readonly ITimer _settleTimer;
    private readonly Lock _gate = new();
    private bool _closed;
    private long _rawEdges;

    /// <summary>
    /// Opens <paramref name="pin"/> as an input with its pull resistor, reads whether the switch is closed now, and
    /// starts watching its edges.
    /// </summary>
    /// <param name="controller">The GPIO controller of the board; the caller keeps owning it.</param>
    /// <param name="pin">The GPIO pin number of the switch, in the controller's numbering.</param>
    /// <param name="activeLow">True when the closed switch pulls the pin low (input with pull-up); false when it drives it high (input with pull-down).</param>
    /// <param name="debounce">How long a level must hold before it counts (the profile's <c>debounceMs</c>).</param>
    /// <param name="timeProvider">The clock of the debounce timer.</param>
    public DebouncedSwitch(GpioController controller, int pin, bool activeLow, TimeSpan debounce, TimeProvider timeProvider)
    {
        _controller = controller;
        _pin = pin;
        _activeLow = activeLow;
        _debounce = debounce;
        _controller.OpenPin(pin, activeLow ? PinMode.InputPullUp : PinMode.InputPullDown);
        _settleTimer = timeProvider.CreateTimer(_ => Settle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _controller.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
        // Read after watching: an edge in between is settled by the timer, not missed.
        lock (_gate)
        {
            _closed = IsClosedLevel(_controller.Read(pin));
        }
    }

    /// <summary>Raised once per debounced closing (a press of the button, a door shut).</summary>
    public event EventHandler? Closed;

    /// <summary>Raised once per debounced opening (the button released, a door opened).</summary>
    public event EventHandler? Opened;

    /// <summary>Whether the switch is closed, as read at start and then as of the last debounced change. Thread-safe.</summary>
    public bool IsClosed
    {
        get
        {
            lock (_gate)
            {
                return _closed;
            }
        }
    }

    /// <summary>Raw edges seen, bounce included (a diagnostic for wiring problems).</summary>
    public long RawEdges => Interlocked.Read(ref _rawEdges);

    /// <summary>Stops watching the pin's edges and cancels a pending debounce; the pin stays open on the controller.</summary>
    public void Dispose()
    {
        _controller.UnregisterCallbackForPinValueChangedEvent(_pin, OnEdge);
        _settleTimer.Dispose();
    }

    private void OnEdge(object sender, PinValueChangedEventArgs args)
    {
        Interlocked.Increment(ref _rawEdges);
        _settleTimer.Change(_debounce, Timeout.InfiniteTimeSpan);
    }

    private void Settle()
    {
        var closed = IsClosedLevel(_controller.Read(_pin));
        lock (_gate)
        {
            if (closed == _closed)
            {
                return;
            }

            _closed = closed;
        }

        (closed ? Closed : Opened)?.Invoke(this, EventArgs.Empty);
    }

    private bool IsClosedLevel(PinValue level) => _activeLow ? level == PinValue.Low : level == PinValue.High;
}
