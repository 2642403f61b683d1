using System.Diagnostics.CodeAnalysis;

namespace Appliance.Speech;

/// <summary>Why a speech operation did not give a value.</summary>
public enum SpeechErrorCode
{
    /// <summary>A model file or folder named by the caller does not exist.</summary>
    ModelMissing,

    /// <summary>A model exists but cannot be loaded or does not have the inputs and outputs expected.</summary>
    ModelInvalid,

    /// <summary>The audio holds no samples.</summary>
    EmptyAudio,

    /// <summary>The language code is not one the model knows.</summary>
    UnknownLanguage,

    /// <summary>An option is out of range (for example a beam size of 0).</summary>
    InvalidOptions,

    /// <summary>ONNX Runtime failed while running a model.</summary>
    InferenceFailed,
}

/// <summary>An expected failure: a code to branch on and a message for people.</summary>
/// <param name="Code">What went wrong.</param>
/// <param name="Message">Which file, field or value, and why.</param>
public sealed record SpeechError(SpeechErrorCode Code, string Message);

/// <summary>A value, or the <see cref="SpeechError"/> that prevented it.</summary>
/// <typeparam name="T">The value's type.</typeparam>
public readonly record struct SpeechResult<T>
    where T : class
{
    internal SpeechResult(T? value, SpeechError? error)
    {
        Value = value;
        Error = error;
    }

    /// <summary>The value; null when <see cref="Error"/> is set.</summary>
    public T? Value { get; }

    /// <summary>The failure; null when <see cref="Value"/> is set.</summary>
    public SpeechError? Error { get; }

    /// <summary>True when <see cref="Value"/> is set.</summary>
    [MemberNotNullWhen(true, nameof(Value))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool IsSuccess => Value is not null;
}

/// <summary>Makes <see cref="SpeechResult{T}"/> values.</summary>
public static class SpeechResult
{
    /// <summary>A success.</summary>
    public static SpeechResult<T> Success<T>(T value)
        where T : class => new(value, null);

    /// <summary>A failure.</summary>
    public static SpeechResult<T> Failure<T>(SpeechErrorCode code, string message)
        where T : class => new(null, new SpeechError(code, message));

    /// <summary>A failure carrying another result's error.</summary>
    public static SpeechResult<T> Failure<T>(SpeechError error)
        where T : class => new(null, error);
}
