using System.Diagnostics;
using System.Numerics.Tensors;

namespace Appliance.Benchmarks;

/// <summary>
/// This machine's streaming read bandwidth: threads sum disjoint slices of a float buffer far larger than the last
/// cache level, as a decode step streams the weights once per token.
/// </summary>
internal static class MemoryBandwidth
{
    /// <summary>The best of <paramref name="repetitions"/> full reads of the buffer, in bytes per second.</summary>
    public static double MeasureRead(int mebibytes, int threads, int repetitions = 5)
    {
        var buffer = GC.AllocateUninitializedArray<float>(checked(mebibytes * (1024 * 1024 / sizeof(float))));
        buffer.AsSpan().Fill(1f); // touch every page, so the timed reads do not fault
        var slice = buffer.Length / threads;
        var sums = new float[threads]; // written by each thread, so no read can be skipped
        var best = double.MaxValue;
        for (var repetition = 0; repetition < repetitions; repetition++)
        {
            var start = Stopwatch.GetTimestamp();
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                sums[t] = TensorPrimitives.Sum(buffer.AsSpan(t * slice, slice)));
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        return (double)slice * threads * sizeof(float) / best;
    }
}
