using System.Device.Gpio;

namespace Appliance.Hardware;

/// <summary>What the status LED shows.</summary>
public enum LedPattern
{
    /// <summary>Dark: the state before the first <see cref="StatusLed.Show"/> and after an orderly stop.</summary>
    Off,
    /// <summary>Lit steadily: the daemon is connected to its broker.</summary>
    On,

    /// <summary>Toggles twice a second: the daemon is up but not connected to its broker.</summary>
    Blink,
}

/// <summary>
/// The board's status LED on one GPIO output. Blinking runs on a timer from the injected
/// <see cref="TimeProvider"/>. Owns neither the controller nor the time provider. Thread-safe.
/// </summary>
public sealed class StatusLed : IDisposable
{
    private static readonly TimeSpan BlinkHalfPeriod = TimeSpan.FromMilliseconds(250);

    private readonly GpioController _controller;
    private readonly int _pin;
    private readonly Lock _gate = new();
    private readonly ITimer _blinkTimer;
    private bool _lit;

    /// <summary>Opens <paramref name="pin"/> as an output, driven low (LED off), and shows <see cref="LedPattern.Off"/>.</summary>
    /// <param name="controller">The GPIO controller of the board; the caller keeps owning it.</param>
    /// <param name="pin">The GPIO pin number of the LED, in the controller's numbering.</param>
    /// <param name="timeProvider">The clock of the blink timer.</param>
    public StatusLed(GpioController controller, int pin, TimeProvider timeProvider)
    {
        _controller = controller;
        _pin = pin;
        _controller.OpenPin(pin, PinMode.Output, PinValue.Low);
        _blinkTimer = timeProvider.CreateTimer(_ => Toggle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>The pattern last passed to <see cref="Show"/>; <see cref="LedPattern.Off"/> at first.</summary>
    public LedPattern Pattern { get; private set; } = LedPattern.Off;

    /// <summary>Whether the LED is lit now, read back from the pin.</summary>
    public bool IsLit => _controller.Read(_pin) == PinValue.High;

    /// <summary>Switches the LED to <paramref name="pattern"/> at once; showing the current pattern again changes nothing.</summary>
    /// <param name="pattern">What the LED shows from now on.</param>
    public void Show(LedPattern pattern)
    {
        lock (_gate)
        {
            if (pattern == Pattern)
            {
                return;
            }

            Pattern = pattern;
            _blinkTimer.Change(pattern == LedPattern.Blink ? BlinkHalfPeriod : Timeout.InfiniteTimeSpan, BlinkHalfPeriod);
            SetLit(pattern != LedPattern.Off);
        }
    }

    /// <summary>Stops blinking and turns the LED off; the pin stays open on the controller.</summary>
    public void Dispose()
    {
        _blinkTimer.Dispose();
        lock (_gate)
        {
            SetLit(false);
        }
    }

    private void Toggle()
    {
        lock (_gate)
        {
            if (Pattern == LedPattern.Blink)
            {
                SetLit(!_lit);
            }
        }
    }

    private void SetLit(bool lit)
    {
        _lit = lit;
        _controller.Write(_pin, lit ? PinValue.High : PinValue.Low);
    }
}
