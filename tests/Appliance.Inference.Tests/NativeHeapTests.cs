using System.Runtime.InteropServices;

namespace Appliance.Inference.Tests;

/// <summary>
/// The C library's heap, trimmed (glibc's <c>malloc_trim</c>), as the daemon does every minute. The test reads the
/// whole process's resident set, so no other test of this assembly runs beside it.
/// </summary>
[Collection(ResidentSetReaders.Name)]
public sealed class NativeHeapTests
{
    private const int Chunks = 512;
    private const int ChunkBytes = 64 * 1024; // under glibc's mmap threshold: served from a malloc arena
    private const long HeldBytes = (long)Chunks * ChunkBytes;

    /// <summary>
    /// 32 MiB of native blocks are written and freed, all but the last, which keeps the freed ones from being the top of
    /// their heap: glibc keeps them resident, as it kept what ONNX Runtime and GenAI freed in the soak. A trim gives at
    /// least half of them back to the system.
    /// </summary>
    [Fact]
    public void A_trim_gives_freed_blocks_below_one_still_in_use_back_to_the_system()
    {
        Assert.True(OperatingSystem.IsLinux(), "the daemon trims glibc's heap; this test runs where it does");
        Assert.True(NativeHeap.CanTrim);
        var blocks = new nint[Chunks];
        var ones = Enumerable.Repeat((byte)1, ChunkBytes).ToArray();
        for (var i = 0; i < Chunks; i++)
        {
            blocks[i] = Marshal.AllocHGlobal(ChunkBytes); // malloc
            Marshal.Copy(ones, 0, blocks[i], ChunkBytes);
        }

        try
        {
            for (var i = 0; i < Chunks - 1; i++)
            {
                Marshal.FreeHGlobal(blocks[i]);
            }

            var before = ResidentMemory.Bytes();
            Assert.True(NativeHeap.Trim());
            var released = before - ResidentMemory.Bytes();

            Assert.True(released >= HeldBytes / 2, $"a trim gave back {released / 1048576.0:0.0} MiB of the {HeldBytes / 1048576} MiB freed");
        }
        finally
        {
            Marshal.FreeHGlobal(blocks[^1]);
        }
    }

    /// <summary>
    /// glibc takes the values <see cref="NativeHeap.Tune"/> passes (mallopt returns non-zero for each), and a negative
    /// value is an error. The blocks show which side of the threshold glibc serves them from (<c>mallinfo2</c> counts
    /// the mapped ones, <c>hblks</c>): a 512 KiB block from the heap at 1 MiB, and a block beyond the heap's free space
    /// mapped at 128 KiB. The second would be mapped at 1 MiB too: a block between the two thresholds is mapped only
    /// when no free space in its arena holds it, which a test cannot arrange in a process whose other threads share the
    /// arenas. What the 128 KiB threshold does to the daemon's memory is measured by the soak and the LLM benchmark
    /// (docs/benchmarks.md).
    /// </summary>
    [Fact]
    public void Tuning_holds_the_mmap_threshold_where_the_daemon_sets_it()
    {
        Assert.True(OperatingSystem.IsLinux(), "the daemon tunes glibc's heap; this test runs where it does");
        const int BlockBytes = 512 * 1024;
        try
        {
            Assert.True(NativeHeap.Tune(0, 1024 * 1024));
            Assert.Equal(0, MappedBlocksAfterAllocating(BlockBytes));

            // glibc maps a block only when no free space in the heap holds it: ask for more than is free.
            Assert.True(NativeHeap.Tune(NativeHeap.ApplianceArenas, NativeHeap.ApplianceMmapThresholdBytes));
            Assert.Equal(1, MappedBlocksAfterAllocating((int)Math.Max(BlockBytes, (long)MallInfo2().FreeBytes + (1024 * 1024))));

            Assert.Throws<ArgumentOutOfRangeException>(() => NativeHeap.Tune(-1, 0));
        }
        finally
        {
            NativeHeap.Tune(0, NativeHeap.ApplianceMmapThresholdBytes);
        }
    }

    private static long MappedBlocksAfterAllocating(int bytes)
    {
        var before = MallInfo2().MappedBlocks;
        var block = Marshal.AllocHGlobal(bytes); // malloc
        try
        {
            return MallInfo2().MappedBlocks - before;
        }
        finally
        {
            Marshal.FreeHGlobal(block);
        }
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    private static extern MallocInfo MallInfo2();

    // glibc's struct mallinfo2 (malloc.h): ten size_t fields; hblks is the fourth.
    [StructLayout(LayoutKind.Sequential)]
    private readonly struct MallocInfo
    {
        public readonly nuint Arena;
        public readonly nuint OrdBlks;
        public readonly nuint SmBlks;
        public readonly nuint HBlks;
        public readonly nuint HBlkHd;
        public readonly nuint UsmBlks;
        public readonly nuint FsmBlks;
        public readonly nuint UordBlks;
        public readonly nuint FordBlks;
        public readonly nuint KeepCost;

        public long MappedBlocks => (long)HBlks;

        public long FreeBytes => (long)FordBlks;
    }
}

/// <summary>Tests that read the process's resident set: no other test runs beside them.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ResidentSetReaders
{
    public const string Name = "native heap";
}
