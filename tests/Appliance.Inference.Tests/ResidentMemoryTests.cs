using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Appliance.Inference.Tests;

/// <summary>The resident set as the health check and the LLM's memory guard read it.</summary>
[Collection(ResidentSetReaders.Name)]
public sealed class ResidentMemoryTests
{
    private const int BlockBytes = 64 * 1024 * 1024;

    /// <summary>
    /// It agrees with the kernel's figure as <see cref="Process.WorkingSet64"/> reads it (from <c>/proc/self/stat</c>),
    /// and 64 MiB of native memory written page by page raise it by at least 60 MiB.
    /// </summary>
    [Fact]
    public void It_agrees_with_the_processs_working_set_and_counts_memory_written()
    {
        Assert.True(OperatingSystem.IsLinux(), "the daemon runs on Linux, where the figure comes from /proc/self/statm");
        using (var process = Process.GetCurrentProcess())
        {
            var read = ResidentMemory.Bytes();
            var reference = process.WorkingSet64;
            Assert.True(Math.Abs(read - reference) < 16L * 1024 * 1024, $"statm read {read} bytes, the process's working set {reference}");
        }

        var before = ResidentMemory.Bytes();
        var block = Marshal.AllocHGlobal(BlockBytes); // above glibc's mmap threshold: its own mapping, untouched until written
        try
        {
            var page = new byte[Environment.SystemPageSize];
            page.AsSpan().Fill(1);
            for (var offset = 0; offset < BlockBytes; offset += page.Length)
            {
                Marshal.Copy(page, 0, block + offset, page.Length);
            }

            var grown = ResidentMemory.Bytes() - before;
            Assert.True(grown >= 60L * 1024 * 1024, $"the resident set grew by {grown / 1048576.0:0.0} MiB after 64 MiB were written");
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }
}
