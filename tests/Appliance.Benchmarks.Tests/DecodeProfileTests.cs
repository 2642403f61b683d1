using System.Text.Json;
using Appliance.Benchmarks.Llm;

namespace Appliance.Benchmarks.Tests;

/// <summary>Reading ONNX Runtime's profile: only kernels inside the decode steps' graph runs count, summed by operator type.</summary>
public sealed class DecodeProfileTests
{
    [Fact]
    public void Kernels_of_the_decode_steps_are_summed_by_operator_type_and_the_prompts_are_left_out()
    {
        // A prompt run at 0, decode runs at 1000 and 2000; kernels inside each, one outside every run, one session event.
        using var profile = JsonDocument.Parse("""
            [
              {"cat":"Session","name":"model_run","ts":0,"dur":500},
              {"cat":"Node","name":"/m/MatMul_kernel_time","ts":10,"dur":400,"args":{"op_name":"MatMulNBits"}},
              {"cat":"Session","name":"model_run","ts":1000,"dur":100},
              {"cat":"Node","name":"/m/MatMul_kernel_time","ts":1010,"dur":60,"args":{"op_name":"MatMulNBits"}},
              {"cat":"Node","name":"/a/GQA_kernel_time","ts":1070,"dur":20,"args":{"op_name":"GroupQueryAttention"}},
              {"cat":"Node","name":"/m/MatMul_fence_before","ts":1071,"dur":5,"args":{"op_name":"MatMulNBits"}},
              {"cat":"Session","name":"model_run","ts":2000,"dur":120},
              {"cat":"Node","name":"/m/MatMul_kernel_time","ts":2010,"dur":80,"args":{"op_name":"MatMulNBits"}},
              {"cat":"Node","name":"/a/GQA_kernel_time","ts":2090,"dur":20,"args":{"op_name":"GroupQueryAttention"}},
              {"cat":"Node","name":"/m/MatMul_kernel_time","ts":3000,"dur":999,"args":{"op_name":"MatMulNBits"}}
            ]
            """);

        var result = DecodeProfile.Read(profile.RootElement, steps: 2, wallMicrosecondsPerToken: 130);

        Assert.Equal(2, result.Steps);
        Assert.Equal(110, result.RunMicrosecondsPerToken);
        Assert.Equal(90, result.KernelMicrosecondsPerToken);
        Assert.Equal(["MatMulNBits", "GroupQueryAttention"], result.Ops.Select(o => o.OpType));
        Assert.Equal(70, result.Ops[0].MicrosecondsPerToken);
        Assert.Equal(1, result.Ops[0].NodesPerToken);
        Assert.Equal(140.0 / 180, result.Ops[0].Share, 6);
        Assert.Equal(20, result.Ops[1].MicrosecondsPerToken);
    }

    [Fact]
    public void A_profile_with_other_runs_than_the_prompts_and_the_steps_is_refused()
    {
        using var profile = JsonDocument.Parse("""[{"cat":"Session","name":"model_run","ts":0,"dur":5}]""");

        var error = Assert.Throws<InvalidDataException>(() => DecodeProfile.Read(profile.RootElement, steps: 2, wallMicrosecondsPerToken: 1));

        Assert.Contains("1 graph runs", error.Message, StringComparison.Ordinal);
    }
}
