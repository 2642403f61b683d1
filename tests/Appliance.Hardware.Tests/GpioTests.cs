using System.Device.Gpio;
using Appliance.Hardware;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Hardware.Tests;

public sealed class GpioTests
{
    private const int ButtonPin = 17;
    private const int LedPin = 27;

    [Fact]
    public void The_led_state_is_read_back_from_the_pin()
    {
        var time = new FakeTimeProvider();
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        using var led = new StatusLed(controller, LedPin, time);

        Assert.False(led.IsLit);
        led.Show(LedPattern.On);
        Assert.True(led.IsLit);
        Assert.Equal(PinValue.High, driver.Peek(LedPin));
        led.Show(LedPattern.Off);
        Assert.False(led.IsLit);
    }

    [Fact]
    public void A_blinking_led_toggles_every_quarter_second()
    {
        var time = new FakeTimeProvider();
        using var controller = new GpioController(new SimulatedGpioDriver());
        using var led = new StatusLed(controller, LedPin, time);

        led.Show(LedPattern.Blink);
        var seen = new List<bool> { led.IsLit };
        for (var i = 0; i < 4; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250));
            seen.Add(led.IsLit);
        }

        Assert.Equal([true, false, true, false, true], seen);
        led.Show(LedPattern.On);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(led.IsLit);
    }

    [Fact]
    public void A_bouncing_press_and_release_count_once_each()
    {
        var time = new FakeTimeProvider();
        var driver = new SimulatedGpioDriver(seed: 7);
        using var controller = new GpioController(driver);
        using var button = new DebouncedSwitch(controller, ButtonPin, activeLow: true, TimeSpan.FromMilliseconds(30), time);
        var presses = 0;
        var releases = 0;
        button.Closed += (_, _) => presses++;
        button.Opened += (_, _) => releases++;

        driver.PressButton(ButtonPin);
        Assert.True(driver.LastEdgeCount > 1, "the simulated contact should bounce");
        Assert.Equal(0, presses);
        time.Advance(TimeSpan.FromMilliseconds(29));
        Assert.Equal(0, presses);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(1, presses);
        Assert.True(button.IsClosed);

        driver.ReleaseButton(ButtonPin);
        time.Advance(TimeSpan.FromMilliseconds(30));
        Assert.Equal(1, releases);
        Assert.False(button.IsClosed);
        Assert.True(button.RawEdges >= 4);
    }

    [Fact]
    public void A_glitch_shorter_than_the_debounce_time_is_ignored()
    {
        var time = new FakeTimeProvider();
        var driver = new SimulatedGpioDriver();
        using var controller = new GpioController(driver);
        using var button = new DebouncedSwitch(controller, ButtonPin, activeLow: true, TimeSpan.FromMilliseconds(30), time);
        var events = 0;
        button.Closed += (_, _) => events++;
        button.Opened += (_, _) => events++;

        driver.Drive(ButtonPin, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(10));
        driver.Drive(ButtonPin, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(100));

        Assert.Equal(0, events);
        Assert.False(button.IsClosed);
    }
}
