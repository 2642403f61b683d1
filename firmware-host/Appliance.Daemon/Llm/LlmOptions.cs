using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Daemon.Llm;

/// <summary>The <c>Llm</c> configuration section.</summary>
internal sealed class LlmOptions
{
    public const string Section = "Llm";

    /// <summary>Generations run at the same time; more wait in the priority queue (voice ahead of summaries).</summary>
    [Range(1, 16)]
    public int MaxConcurrency { get; set; } = 1;

    /// <summary>Requests that may wait; more are refused with "queue_full".</summary>
    [Range(0, 10_000)]
    public int QueueCapacity { get; set; } = 32;

    /// <summary>Let the model's idle threads spin: about 8 % faster decoding, but a whole core burnt between tokens.</summary>
    public bool AllowSpinning { get; set; }
}

[OptionsValidator]
internal sealed partial class LlmOptionsValidator : IValidateOptions<LlmOptions>;
