using System.Device.Gpio;

namespace Appliance.Hardware;

/// <summary>
/// A GPIO chip in software, for boards without the hardware and for tests. Output pins keep the value
/// written so it can be read back (an LED's state); input pins are driven by <see cref="Drive"/> and raise
/// edge callbacks like a real chip does, including the bursts of a bouncing contact
/// (<see cref="PressButton"/>). Thread-safe.
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    private readonly Lock _gate = new();
    private readonly Dictionary<int, SimulatedPin> _pins = [];
    private readonly Random _random;

    /// <summary>Creates a chip whose pins all start as low inputs.</summary>
    /// <param name="pinCount">Pins on the chip, numbered 0 to <paramref name="pinCount"/> - 1; other numbers throw <see cref="ArgumentOutOfRangeException"/>.</param>
    /// <param name="seed">Seed of the bounce lengths; the same seed gives the same edges.</param>
    public SimulatedGpioDriver(int pinCount = 64, int seed = 1)
    {
        PinCount = pinCount;
        _random = new Random(seed);
    }

    /// <summary>Pins on the chip, as given to the constructor.</summary>
    protected override int PinCount { get; }

    /// <summary>How many edges the last <see cref="PressButton"/> or <see cref="ReleaseButton"/> emitted, bounce included.</summary>
    public int LastEdgeCount { get; private set; }

    /// <summary>The level of a pin as the chip sees it: what was written to an output, or what drives an input.</summary>
    public PinValue Peek(int pinNumber)
    {
        lock (_gate)
        {
            return Pin(pinNumber).Value;
        }
    }

    /// <summary>
    /// Sets the level on an input pin from outside (a switch, a sensor line), raising an edge callback when it changes.
    /// From then on the pin's pull resistor no longer sets its level: a closed switch holds the line against it.
    /// </summary>
    public void Drive(int pinNumber, PinValue value)
    {
        PinChangeEventHandler[] callbacks;
        PinEventTypes edge;
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            pin.IsDriven = true;
            if (pin.Value == value)
            {
                return;
            }

            pin.Value = value;
            edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            callbacks = [.. pin.Callbacks.Where(c => c.Events.HasFlag(edge)).Select(c => c.Handler)];
            pin.EdgeSeen.TrySetResult(edge);
            pin.EdgeSeen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        foreach (var callback in callbacks)
        {
            callback(this, new PinValueChangedEventArgs(edge, pinNumber));
        }
    }

    /// <summary>
    /// Presses a push button wired to <paramref name="pinNumber"/>: the contact bounces (2 to 6 extra edges)
    /// before settling at the pressed level (low when <paramref name="activeLow"/>).
    /// </summary>
    public void PressButton(int pinNumber, bool activeLow = true) => Bounce(pinNumber, activeLow ? PinValue.Low : PinValue.High);

    /// <summary>Releases the button, with bounce, settling at the idle level.</summary>
    public void ReleaseButton(int pinNumber, bool activeLow = true) => Bounce(pinNumber, activeLow ? PinValue.High : PinValue.Low);

    private void Bounce(int pinNumber, PinValue settled)
    {
        int extraEdges;
        lock (_gate)
        {
            extraEdges = 2 * _random.Next(1, 4);
        }

        var opposite = settled == PinValue.High ? PinValue.Low : PinValue.High;
        var edges = 0;
        for (var i = 0; i < extraEdges; i++)
        {
            Drive(pinNumber, i % 2 == 0 ? settled : opposite);
            edges++;
        }

        Drive(pinNumber, settled);
        LastEdgeCount = edges + 1;
    }

    /// <inheritdoc/>
    protected override void OpenPin(int pinNumber)
    {
        lock (_gate)
        {
            Pin(pinNumber).IsOpen = true;
        }
    }

    /// <summary>Closes the pin and drops its edge callbacks; its mode and level stay.</summary>
    /// <param name="pinNumber">The pin number.</param>
    protected override void ClosePin(int pinNumber)
    {
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            pin.IsOpen = false;
            pin.Callbacks.Clear();
        }
    }

    /// <summary>Sets the pin's mode; a pull-up input reads high and a pull-down input reads low until driven.</summary>
    /// <param name="pinNumber">The pin number.</param>
    /// <param name="mode">The new mode.</param>
    protected override void SetPinMode(int pinNumber, PinMode mode)
    {
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            pin.Mode = mode;
            if (pin.IsDriven)
            {
                // Driven from outside: the pull resistor does not set the level.
            }
            else if (mode == PinMode.InputPullUp)
            {
                pin.Value = PinValue.High;
            }
            else if (mode == PinMode.InputPullDown)
            {
                pin.Value = PinValue.Low;
            }
        }
    }

    /// <inheritdoc/>
    protected override PinMode GetPinMode(int pinNumber)
    {
        lock (_gate)
        {
            return Pin(pinNumber).Mode;
        }
    }

    /// <summary>Every mode is supported on every pin of the chip.</summary>
    /// <param name="pinNumber">The pin number.</param>
    /// <param name="mode">The mode asked about.</param>
    /// <returns>Whether <paramref name="pinNumber"/> is on the chip.</returns>
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => pinNumber >= 0 && pinNumber < PinCount;

    /// <summary>The pin's level, as <see cref="Peek"/> returns it.</summary>
    /// <param name="pinNumber">The pin number.</param>
    protected override PinValue Read(int pinNumber) => Peek(pinNumber);

    /// <summary>Sets an output pin's level, which <see cref="Peek"/> then reads back; raises no edge callback.</summary>
    /// <param name="pinNumber">The pin number.</param>
    /// <param name="value">The level to write.</param>
    /// <exception cref="InvalidOperationException">The pin is not in <see cref="PinMode.Output"/> mode.</exception>
    protected override void Write(int pinNumber, PinValue value)
    {
        lock (_gate)
        {
            var pin = Pin(pinNumber);
            if (pin.Mode != PinMode.Output)
            {
                throw new InvalidOperationException($"Pin {pinNumber} is not an output.");
            }

            pin.Value = value;
        }
    }

    /// <summary>Blocks until <see cref="Drive"/> changes the pin with an edge of <paramref name="eventTypes"/>.</summary>
    /// <param name="pinNumber">The pin number.</param>
    /// <param name="eventTypes">The edges to wait for.</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <returns>The edge seen, or <see cref="WaitForEventResult.TimedOut"/> set when cancelled.</returns>
    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<PinEventTypes> edgeSeen;
            lock (_gate)
            {
                edgeSeen = Pin(pinNumber).EdgeSeen.Task;
            }

            try
            {
                edgeSeen.Wait(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return new WaitForEventResult { TimedOut = true, EventTypes = PinEventTypes.None };
            }

            if (eventTypes.HasFlag(edgeSeen.Result))
            {
                return new WaitForEventResult { TimedOut = false, EventTypes = edgeSeen.Result };
            }
        }
    }

    /// <inheritdoc/>
    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Pin(pinNumber).Callbacks.Add((eventTypes, callback));
        }
    }

    /// <inheritdoc/>
    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_gate)
        {
            Pin(pinNumber).Callbacks.RemoveAll(c => c.Handler == callback);
        }
    }

    private SimulatedPin Pin(int pinNumber)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pinNumber);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(pinNumber, PinCount);
        if (!_pins.TryGetValue(pinNumber, out var pin))
        {
            pin = new SimulatedPin();
            _pins[pinNumber] = pin;
        }

        return pin;
    }

    private sealed class SimulatedPin
    {
        public bool IsOpen { get; set; }
        public PinMode Mode { get; set; } = PinMode.Input;
        public PinValue Value { get; set; } = PinValue.Low;
        public bool IsDriven { get; set; }
        public List<(PinEventTypes Events, PinChangeEventHandler Handler)> Callbacks { get; } = [];
        public TaskCompletionSource<PinEventTypes> EdgeSeen { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
