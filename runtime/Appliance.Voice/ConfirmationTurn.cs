using Appliance.Contracts;

namespace Appliance.Voice;

/// <summary>How a confirmation ended, with the intent as it now stands; <see cref="Intent"/> is null when nothing was pending.</summary>
/// <param name="Intent">The intent with its <see cref="VoiceIntent.Confirmation"/> and reply set; null when no such confirmation was pending.</param>
/// <param name="Problem">Why nothing was ended, in words; null when <see cref="Intent"/> is set.</param>
public sealed record ConfirmationOutcome(VoiceIntent? Intent, string? Problem);

/// <summary>
/// The one intent of a device that waits for its yes or no: a new one replaces it, an answer ends it, and after the
/// schema's <see cref="Appliance.Profiles.CommandSchema.ConfirmationTimeoutSeconds"/> it expires. Only an intent ended
/// as <see cref="VoiceConfirmations.Confirmed"/> may be carried out. Thread-safe.
/// </summary>
/// <param name="interpreter">Renders the replies of ended confirmations.</param>
/// <param name="time">The clock expiry is measured on.</param>
public sealed class ConfirmationTurn(CommandInterpreter interpreter, TimeProvider time)
{
    private readonly Lock _gate = new();
    private (VoiceIntent Intent, DateTimeOffset ExpiresAt)? _pending;

    /// <summary>How long a question waits for its answer.</summary>
    public TimeSpan Timeout { get; } = TimeSpan.FromSeconds(interpreter.Schema.ConfirmationTimeoutSeconds);

    /// <summary>Starts waiting for the answer to <paramref name="intent"/> (its confirmation <c>pending</c>).</summary>
    /// <param name="intent">An intent from <see cref="CommandInterpreter.Interpret"/> whose confirmation is pending.</param>
    /// <param name="expiresAt">When the question expires unanswered.</param>
    /// <returns>The intent that was waiting and is now replaced; null when none was.</returns>
    /// <exception cref="ArgumentException"><paramref name="intent"/> is not pending.</exception>
    public ConfirmationOutcome? Begin(VoiceIntent intent, out DateTimeOffset expiresAt)
    {
        ArgumentNullException.ThrowIfNull(intent);
        if (intent.Confirmation != VoiceConfirmations.Pending)
        {
            throw new ArgumentException($"utterance {intent.UtteranceId} waits for no confirmation", nameof(intent));
        }

        expiresAt = time.GetUtcNow() + Timeout;
        lock (_gate)
        {
            var replaced = EndLocked(VoiceConfirmations.Replaced);
            _pending = (intent, expiresAt);
            return replaced;
        }
    }

    /// <summary>Whether an unexpired intent waits for its answer.</summary>
    public bool IsWaiting
    {
        get
        {
            lock (_gate)
            {
                return _pending is { } p && time.GetUtcNow() < p.ExpiresAt;
            }
        }
    }

    /// <summary>Answers the waiting intent of <paramref name="utteranceId"/>.</summary>
    /// <param name="utteranceId">The utterance whose intent waits; null answers whichever waits (a spoken yes or no).</param>
    /// <param name="confirmed">Yes or no.</param>
    /// <returns>
    /// The intent, confirmed or declined; when its time was over, the intent ended as expired with the problem; when
    /// that utterance is not waiting (answered, replaced, unknown), only the problem.
    /// </returns>
    public ConfirmationOutcome Answer(string? utteranceId, bool confirmed)
    {
        lock (_gate)
        {
            if (_pending is not { } pending || (utteranceId is not null && pending.Intent.UtteranceId != utteranceId))
            {
                return new(null, utteranceId is null ? "no command waits for a confirmation" : $"utterance {utteranceId} waits for no confirmation (it was answered, expired or replaced, or never asked for one)");
            }

            var ended = EndLocked(confirmed ? VoiceConfirmations.Confirmed : VoiceConfirmations.Declined)!;
            return ended.Intent!.Confirmation == VoiceConfirmations.Expired
                ? ended with { Problem = $"the confirmation of utterance {pending.Intent.UtteranceId} expired after {Timeout.TotalSeconds:0} s" }
                : ended;
        }
    }

    /// <summary>Ends the waiting intent, if one waits, because another command came before its answer (as expired if its time was over).</summary>
    /// <returns>The replaced intent; null when none waited.</returns>
    public ConfirmationOutcome? Replace()
    {
        lock (_gate)
        {
            return EndLocked(VoiceConfirmations.Replaced);
        }
    }

    /// <summary>Ends the waiting intent of <paramref name="utteranceId"/> if its time is over (for the expiry timer).</summary>
    /// <returns>The expired intent; null when it was answered or replaced before.</returns>
    public ConfirmationOutcome? Expire(string utteranceId)
    {
        lock (_gate)
        {
            return _pending is { } pending && pending.Intent.UtteranceId == utteranceId && time.GetUtcNow() >= pending.ExpiresAt
                ? EndLocked(VoiceConfirmations.Expired)
                : null;
        }
    }

    /// <summary>Ends the waiting intent with <paramref name="outcome"/>, or as expired when its time is over whatever the outcome asked.</summary>
    private ConfirmationOutcome? EndLocked(string outcome)
    {
        if (_pending is not { } pending)
        {
            return null;
        }

        _pending = null;
        return new(interpreter.Conclude(pending.Intent, time.GetUtcNow() >= pending.ExpiresAt ? VoiceConfirmations.Expired : outcome), null);
    }
}
