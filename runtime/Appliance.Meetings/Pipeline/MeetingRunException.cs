namespace Appliance.Meetings.Pipeline;

/// <summary>
/// A meeting run stopped on an expected failure that has a contract error code (for example
/// <see cref="RpcErrorCodes.TranscriptionFailed"/>); the pipeline publishes it as the <c>failed</c> progress event's error.
/// </summary>
internal sealed class MeetingRunException : Exception
{
    /// <summary>A failure with its code from <see cref="RpcErrorCodes"/> and a reason for people.</summary>
    /// <param name="code">The error code.</param>
    /// <param name="message">The reason.</param>
    public MeetingRunException(string code, string message)
        : base(message) => Code = code;

    /// <summary>The error code from <see cref="RpcErrorCodes"/>.</summary>
    public string Code { get; }
}
