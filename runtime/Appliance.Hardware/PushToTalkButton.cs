using System.Device.Gpio;

namespace Appliance.Hardware;

/// <summary>
/// The push-to-talk button on one GPIO input, debounced in software: every edge restarts a quiet-time
/// timer, and only a level that holds for the whole debounce time counts as a press or a release.
/// Events are raised on the timer's thread. Owns neither the controller nor the time provider.
/// </summary>
public sealed class PushToTalkButton : IDisposable
{
    private readonly GpioController _controller;
    private readonly int _pin;
    private readonly bool _activeLow;
    private readonly TimeSpan _debounce;
    private readonly ITimer _settleTimer;
    private readonly Lock _gate = new();
    private bool _pressed;
    private long _rawEdges;

    /// <summary>Opens <paramref name="pin"/> as an input with its pull resistor and starts watching its edges.</summary>
    /// <param name="controller">The GPIO controller of the board; the caller keeps owning it.</param>
    /// <param name="pin">The GPIO pin number of the button, in the controller's numbering.</param>
    /// <param name="activeLow">True when a press pulls the pin low (input with pull-up); false when a press drives it high (input with pull-down).</param>
    /// <param name="debounce">How long a level must hold before it counts (the profile's <c>debounceMs</c>).</param>
    /// <param name="timeProvider">The clock of the debounce timer.</param>
    public PushToTalkButton(GpioController controller, int pin, bool activeLow, TimeSpan debounce, TimeProvider timeProvider)
    {
        _controller = controller;
        _pin = pin;
        _activeLow = activeLow;
        _debounce = debounce;
        _controller.OpenPin(pin, activeLow ? PinMode.InputPullUp : PinMode.InputPullDown);
        _settleTimer = timeProvider.CreateTimer(_ => Settle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _controller.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
    }

    /// <summary>Raised once per debounced press.</summary>
    public event EventHandler? Pressed;

    /// <summary>Raised once per debounced release.</summary>
    public event EventHandler? Released;

    /// <summary>Whether the button is held down, as of the last debounced change; false at first. Thread-safe.</summary>
    public bool IsPressed
    {
        get
        {
            lock (_gate)
            {
                return _pressed;
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
        var level = _controller.Read(_pin);
        var pressed = _activeLow ? level == PinValue.Low : level == PinValue.High;
        lock (_gate)
        {
            if (pressed == _pressed)
            {
                return;
            }

            _pressed = pressed;
        }

        (pressed ? Pressed : Released)?.Invoke(this, EventArgs.Empty);
    }
}
