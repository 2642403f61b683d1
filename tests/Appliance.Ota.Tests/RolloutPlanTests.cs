using Appliance.OtaTool;

namespace Appliance.Ota.Tests;

/// <summary>The staged rollout's bookkeeping: rates, the abort threshold and the in-progress time-out, on a clock the test moves.</summary>
public sealed class RolloutPlanTests
{
    private static readonly string[] TenDevices = [.. Enumerable.Range(1, 10).Select(i => $"d{i}")];

    [Fact]
    public void A_constant_rate_tells_one_device_per_interval()
    {
        var plan = new RolloutPlan(TenDevices, new RolloutPolicy { RatePerMinute = 6 });

        Assert.Equal("d1", plan.NextDue(TimeSpan.Zero));
        Assert.Null(plan.NextDue(TimeSpan.FromSeconds(9)));
        Assert.Equal("d2", plan.NextDue(TimeSpan.FromSeconds(10)));
        Assert.Null(plan.NextDue(TimeSpan.FromSeconds(19)));
        Assert.Equal("d3", plan.NextDue(TimeSpan.FromSeconds(20)));
    }

    [Fact]
    public void An_exponential_rate_grows_by_its_factor_after_each_run_of_successes()
    {
        var plan = new RolloutPlan(TenDevices, new RolloutPolicy { RatePerMinute = 6, IncrementFactor = 2, IncreaseAfterSucceeded = 2 });
        var d1 = plan.NextDue(TimeSpan.Zero)!;
        var d2 = plan.NextDue(TimeSpan.FromSeconds(10))!;
        plan.Finish(d1, true, null);
        Assert.Equal(6, plan.RatePerMinute);
        plan.Finish(d2, true, null);

        Assert.Equal(12, plan.RatePerMinute);
        Assert.Equal("d3", plan.NextDue(TimeSpan.FromSeconds(20)));
        Assert.Equal("d4", plan.NextDue(TimeSpan.FromSeconds(25)));
    }

    [Fact]
    public void The_abort_threshold_applies_only_after_the_minimum_of_executed_devices_and_leaves_the_rest_untold()
    {
        var plan = new RolloutPlan(TenDevices, new RolloutPolicy { RatePerMinute = 600, AbortFailedPercent = 30, AbortMinExecuted = 4 });
        var told = Enumerable.Range(0, 4).Select(i => plan.NextDue(TimeSpan.FromSeconds(i))!).ToList();
        plan.Finish(told[0], false, "refused");
        plan.Finish(told[1], false, "refused");
        Assert.Null(plan.Aborted);
        plan.Finish(told[2], true, null);
        Assert.Null(plan.Aborted);

        plan.Finish(told[3], true, null);

        Assert.Equal("2 of 4 executed devices failed (50 % > 30 %)", plan.Aborted);
        Assert.Null(plan.NextDue(TimeSpan.FromMinutes(5)));
        Assert.Equal(6, plan.Count(RolloutState.NotStarted));
        Assert.True(plan.Done);
    }

    [Fact]
    public void A_device_with_no_final_stage_within_the_time_out_fails()
    {
        var plan = new RolloutPlan(["d1"], new RolloutPolicy { RatePerMinute = 1, InProgressTimeout = TimeSpan.FromMinutes(2) });
        plan.NextDue(TimeSpan.Zero);
        plan.ExpireAt(TimeSpan.FromMinutes(2));
        Assert.Equal(RolloutState.InProgress, plan.Devices().Single().State);

        plan.ExpireAt(TimeSpan.FromMinutes(2.1));

        var (_, state, note) = plan.Devices().Single();
        Assert.Equal(RolloutState.Failed, state);
        Assert.Equal("timed out: no final stage within 2 minutes", note);
    }
}
