using System.Text;

namespace Appliance.ModelForge.Llm;

/// <summary>
/// xoshiro256** seeded through SplitMix64: fast, well distributed, and identical on every platform,
/// so that a seed always forges the same bytes. One instance per tensor (a "stream"), derived from the
/// forge seed and the tensor name, so tensors can be produced in any order.
/// </summary>
internal sealed class DeterministicRandom
{
    private ulong _s0;
    private ulong _s1;
    private ulong _s2;
    private ulong _s3;

    public DeterministicRandom(ulong seed)
    {
        var x = seed;
        _s0 = SplitMix64(ref x);
        _s1 = SplitMix64(ref x);
        _s2 = SplitMix64(ref x);
        _s3 = SplitMix64(ref x);
    }

    /// <summary>A stream for one named tensor: independent of every other name under the same seed.</summary>
    public static DeterministicRandom ForStream(long seed, string streamName)
    {
        // FNV-1a over the UTF-8 name, then mixed with the seed; stable across runs and platforms.
        var hash = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(streamName))
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        var mixed = unchecked((ulong)seed) ^ hash;
        return new DeterministicRandom(SplitMix64(ref mixed));
    }

    public ulong NextUInt64()
    {
        var result = RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Standard normal sample (Box-Muller).</summary>
    public double NextNormal()
    {
        var u1 = 1.0 - NextDouble();
        var u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    private static ulong SplitMix64(ref ulong state)
    {
        state += 0x9E3779B97F4A7C15UL;
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
