using Appliance.Inference;
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

    /// <summary>
    /// When the model's idle threads spin: <c>Never</c> (the default), <c>WithinRun</c> (inside a decode step only, for a
    /// board whose LLM has cores to itself), or <c>Always</c> (ONNX Runtime's own default, which burns a core between
    /// tokens).
    /// </summary>
    [EnumDataType(typeof(SpinPolicy))]
    public SpinPolicy Spinning { get; set; } = SpinPolicy.Never;

    /// <summary>
    /// Whether ONNX Runtime's CPU allocator keeps a memory arena in the language models' sessions (GenAI's
    /// <c>enable_cpu_mem_arena</c>, see <see cref="InferenceSettings.CpuMemoryArena"/>). On by default: without it
    /// every prefill maps its activations afresh, and on the forged 1.5B prefill ran about 9 % slower for the same peak
    /// (docs/benchmarks.md, the LLM benchmark's <c>service-no-cpu-arena</c> engine beside <c>service</c>).
    /// Speech sessions follow <c>Memory:CpuArena</c>.
    /// </summary>
    public bool CpuArena { get; set; } = true;
}

[OptionsValidator]
internal sealed partial class LlmOptionsValidator : IValidateOptions<LlmOptions>;
