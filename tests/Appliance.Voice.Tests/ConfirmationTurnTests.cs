using Appliance.Contracts;
using Appliance.Profiles;
using Appliance.Voice;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Voice.Tests;

/// <summary>The fridge's vacation mode, which the profile marks confirm: it waits for yes or no, and only a yes in time confirms it.</summary>
public sealed class ConfirmationTurnTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero));
    private readonly CommandInterpreter _fridge;
    private readonly ConfirmationTurn _turn;

    public ConfirmationTurnTests()
    {
        _fridge = new CommandInterpreter(CommandInterpreterTests.For("rpi5-fridge").Schema, _time);
        _turn = new ConfirmationTurn(_fridge, _time);
    }

    [Fact]
    public void A_confirm_intent_is_understood_as_pending_with_its_question()
    {
        var intent = _fridge.Interpret("u1", "turn on vacation mode", "en");

        Assert.Equal(("vacation_mode", VoiceConfirmations.Pending, "Turn vacation mode on? Say yes or no."), (intent.Intent, intent.Confirmation, intent.Reply));
        Assert.Null(_fridge.Interpret("u2", "turn on eco mode", "en").Confirmation);
    }

    [Fact]
    public void A_yes_in_time_confirms_it_with_its_reply()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out var expiresAt);
        _time.Advance(TimeSpan.FromSeconds(9));

        var outcome = _turn.Answer(null, confirmed: true);

        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(1), expiresAt);
        Assert.Equal(("u1", "vacation_mode", """{"state":"on"}""", VoiceConfirmations.Confirmed, "Vacation mode on."), (outcome.Intent!.UtteranceId, outcome.Intent.Intent, outcome.Intent.Slots.ToJsonString(), outcome.Intent.Confirmation, outcome.Intent.Reply));
        Assert.False(_turn.IsWaiting);
        Assert.NotNull(_turn.Answer("u1", confirmed: true).Problem); // answered once only
    }

    [Fact]
    public void A_no_declines_it()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out _);

        var outcome = _turn.Answer("u1", confirmed: false);

        Assert.Equal((VoiceConfirmations.Declined, CommandSchema.DefaultDeclinedReply), (outcome.Intent!.Confirmation, outcome.Intent.Reply));
    }

    [Fact]
    public void A_yes_after_the_timeout_confirms_nothing_and_the_expiry_is_reported_once()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out _);
        _time.Advance(TimeSpan.FromSeconds(10));

        var late = _turn.Answer(null, confirmed: true);
        _turn.Begin(_fridge.Interpret("u2", "turn off vacation mode", "en"), out _);
        _time.Advance(TimeSpan.FromSeconds(11));
        var expired = _turn.Expire("u2");

        Assert.Equal(("u1", VoiceConfirmations.Expired), (late.Intent!.UtteranceId, late.Intent.Confirmation)); // ended, to be announced, not carried out
        Assert.Equal("the confirmation of utterance u1 expired after 10 s", late.Problem);
        Assert.Equal(VoiceConfirmations.Expired, expired!.Intent!.Confirmation);
        Assert.Null(_turn.Expire("u2"));
        Assert.Null(_turn.Answer("u2", confirmed: true).Intent);
    }

    [Fact]
    public void A_command_after_the_timeout_ends_the_waiting_one_as_expired_not_replaced()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out _);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(VoiceConfirmations.Expired, _turn.Replace()!.Intent!.Confirmation);
    }

    [Fact]
    public void The_expiry_timer_of_an_answered_question_ends_nothing()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out _);
        _turn.Answer("u1", confirmed: true);
        _time.Advance(TimeSpan.FromSeconds(10));

        Assert.Null(_turn.Expire("u1"));
    }

    [Fact]
    public void A_new_question_or_command_replaces_the_waiting_one()
    {
        _turn.Begin(_fridge.Interpret("u1", "turn on vacation mode", "en"), out _);

        var replaced = _turn.Begin(_fridge.Interpret("u2", "turn off vacation mode", "en"), out _);
        var second = _turn.Replace();

        Assert.Equal(("u1", VoiceConfirmations.Replaced), (replaced!.Intent!.UtteranceId, replaced.Intent.Confirmation));
        Assert.Equal(("u2", VoiceConfirmations.Replaced), (second!.Intent!.UtteranceId, second.Intent.Confirmation));
        Assert.Null(_turn.Replace());
        Assert.Contains("u1 waits for no confirmation", _turn.Answer("u1", confirmed: true).Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void An_intent_that_needs_no_confirmation_cannot_be_made_to_wait()
    {
        Assert.Throws<ArgumentException>(() => _turn.Begin(_fridge.Interpret("u1", "turn on eco mode", "en"), out _));
    }

    [Theory]
    [InlineData("yes", "en", true)]
    [InlineData("Yes, please!", "en", true)]
    [InlineData("OK", "en", true)]
    [InlineData("don't", "en", false)]
    [InlineData("No thanks.", "en", false)]
    [InlineData("yes and unlock the door", "en", null)]
    [InlineData("turn on vacation mode", "en", null)]
    [InlineData("بله", "fa", true)]
    [InlineData("نه", "fa", false)]
    [InlineData("نعم", "ar", true)]
    [InlineData("لا", "ar", false)]
    [InlineData("好的", "zh", true)]
    [InlineData("不要", "zh", false)]
    [InlineData("yes", "de", true)]
    public void Yes_and_no_are_heard_in_each_language_and_nothing_else_is(string text, string language, bool? answer)
    {
        Assert.Equal(answer, CommandInterpreter.YesOrNo(text, language));
    }
}
