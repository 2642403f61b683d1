using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Appliance.Benchmarks.Campaigns;

/// <summary>
/// What a bad link does to each packet that crosses it, either way: what <c>tc netem loss … delay … reorder …</c>
/// does on a link, for machines whose kernel has no <c>sch_netem</c>.
/// </summary>
/// <param name="Loss">Share of packets dropped (0–1).</param>
/// <param name="Delay">How long each packet that is neither dropped nor reordered is held before it goes on (0: none is held).</param>
/// <param name="Reorder">Share of the packets not dropped that go on at once instead of being held (0–1), so they
/// overtake the held ones: netem's <c>reorder</c>.</param>
/// <param name="Seed">Seed of the random choices, so that a run can be repeated.</param>
internal sealed record LinkImpairment(double Loss, TimeSpan Delay, double Reorder, int Seed)
{
    /// <summary>The campaign's bad link: 10 % loss, 300 ms delay and a quarter of the packets reordered, as netem's own example (<c>reorder 25%</c>).</summary>
    public static LinkImpairment Bad(int seed) => new(0.10, TimeSpan.FromMilliseconds(300), 0.25, seed);

    /// <summary>One line for a report: "10 % loss, 300 ms delay, 25 % reordered".</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{Loss:P0} loss, {Delay.TotalMilliseconds:0} ms delay, {Reorder:P0} reordered");
}

/// <summary>
/// What an <see cref="ImpairedLink"/> did: packets seen, dropped, held for the delay, and let through at once ahead of
/// the held ones (with no delay, the packets not dropped are in neither count).
/// </summary>
internal sealed record ImpairedLinkCounts(long Packets, long Dropped, long Delayed, long Reordered);

/// <summary>
/// A network namespace's link made bad in user space: netfilter queues every packet that enters or leaves the namespace
/// (iptables' <c>NFQUEUE</c> target, not on loopback) to this process (libnetfilter_queue, Debian
/// <c>libnetfilter-queue1</c>), which drops it, holds it for the delay or lets it go at once, as
/// <see cref="LinkImpairment"/> says. The queue is read on a thread of its own that has joined the namespace
/// (<c>setns(2)</c>), so the queue is the namespace's and goes with it. Disposing removes the rules, lets every held
/// packet go, and closes the queue.
/// </summary>
internal sealed partial class ImpairedLink : IAsyncDisposable
{
    private const ushort QueueNumber = 0;
    private const byte CopyMetadataOnly = 1; // NFQNL_COPY_META
    private const uint Drop = 0; // NF_DROP
    private const uint Accept = 1; // NF_ACCEPT
    private const int CloneNewNet = 0x40000000; // CLONE_NEWNET
    private const short PollIn = 1; // POLLIN
    private const int DontWait = 0x40; // MSG_DONTWAIT
    private const int Interrupted = 4; // EINTR

    private readonly LinkImpairment _impairment;
    private readonly string _namespace;
    private readonly Random _random;
    private readonly PriorityQueue<uint, long> _held = new(); // packet id by release time (Stopwatch ticks)
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private readonly Func<string[], Task> _iptables; // runs iptables in the namespace
    private int _rules; // rules put in so far
    private volatile bool _stopping;
    private nint _queue;
    private long _packets;
    private long _dropped;
    private long _delayed;
    private long _reordered;

    private ImpairedLink(string networkNamespace, LinkImpairment impairment, Func<string[], Task> iptables)
    {
        _namespace = networkNamespace;
        _impairment = impairment;
        _iptables = iptables;
        _random = new Random(impairment.Seed);
        _thread = new Thread(Run) { IsBackground = true, Name = "impaired link " + networkNamespace };
    }

    /// <summary>What the link has done so far; read from any thread.</summary>
    public ImpairedLinkCounts Counts => new(Interlocked.Read(ref _packets), Interlocked.Read(ref _dropped), Interlocked.Read(ref _delayed), Interlocked.Read(ref _reordered));

    /// <summary>Makes the link of the namespace <paramref name="networkNamespace"/> (made with <c>ip netns add</c>) bad.</summary>
    /// <exception cref="InvalidOperationException">The queue could not be opened (libnetfilter-queue1 missing, not root) or iptables refused the rules.</exception>
    public static async Task<ImpairedLink> StartAsync(string networkNamespace, LinkImpairment impairment, Func<string[], Task> iptables)
    {
        var link = new ImpairedLink(networkNamespace, impairment, iptables);
        link._thread.Start();
        await link._ready.Task.ConfigureAwait(false);
        try
        {
            foreach (var rule in Rules("-A"))
            {
                await iptables(rule).ConfigureAwait(false);
                link._rules++;
            }
        }
        catch
        {
            await link.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return link;
    }

    /// <summary>Takes the rules out, lets every held packet go and closes the queue; the thread ends whatever the rules do.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            // Taken out in the order they went in, so a failure leaves none without the one before it.
            foreach (var rule in Rules("-D").Take(_rules))
            {
                await _iptables(rule).ConfigureAwait(false);
            }
        }
        finally
        {
            _stopping = true;
            await _stopped.Task.ConfigureAwait(false);
        }
    }

    // Every packet in or out of the namespace, loopback aside, goes to the queue; while no queue is bound (its thread
    // failed) packets pass rather than vanish (--queue-bypass).
    private static IEnumerable<string[]> Rules(string action) =>
    [
        [action, "INPUT", "!", "-i", "lo", "-j", "NFQUEUE", "--queue-num", QueueNumber.ToString(CultureInfo.InvariantCulture), "--queue-bypass"],
        [action, "OUTPUT", "!", "-o", "lo", "-j", "NFQUEUE", "--queue-num", QueueNumber.ToString(CultureInfo.InvariantCulture), "--queue-bypass"],
    ];

    private unsafe void Run()
    {
        nint handle = 0;
        var self = GCHandle.Alloc(this);
        try
        {
            using (var space = File.OpenHandle(Path.Combine("/run/netns", _namespace)))
            {
                if (SetNamespace((int)space.DangerousGetHandle(), CloneNewNet) != 0)
                {
                    throw new InvalidOperationException($"setns into {_namespace} failed (errno {Marshal.GetLastPInvokeError()}; it needs root)");
                }
            }

            handle = QueueOpen();
            if (handle == 0)
            {
                throw new InvalidOperationException($"nfq_open failed (errno {Marshal.GetLastPInvokeError()}; it needs root)");
            }

            _queue = QueueCreate(handle, QueueNumber, &OnPacket, GCHandle.ToIntPtr(self));
            if (_queue == 0 || QueueSetMode(_queue, CopyMetadataOnly, 0) < 0 || QueueSetMaxLength(_queue, 4096) < 0)
            {
                throw new InvalidOperationException($"the netfilter queue {QueueNumber} could not be bound in {_namespace} (errno {Marshal.GetLastPInvokeError()})");
            }

            _ready.SetResult();
            Pump(handle);
        }
#pragma warning disable CA1031 // The thread's failure goes to whoever waits for it, never up the thread.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            var failure = ex is DllNotFoundException ? new InvalidOperationException("libnetfilter_queue.so.1 is missing: apt-get install libnetfilter-queue1", ex) : ex;
            if (!_ready.TrySetException(failure))
            {
                _stopped.TrySetException(failure);
            }
        }
        finally
        {
            if (_queue != 0)
            {
                _ = QueueDestroy(_queue);
            }

            if (handle != 0)
            {
                _ = QueueClose(handle);
            }

            self.Free();
            _stopped.TrySetResult();
        }
    }

    private unsafe void Pump(nint handle)
    {
        var socket = QueueDescriptor(handle);
        var buffer = new byte[65536];
        var poll = new PollDescriptor { Descriptor = socket, Events = PollIn };
        fixed (byte* data = buffer)
        {
            while (!_stopping)
            {
                var wait = 50;
                if (_held.TryPeek(out _, out var due))
                {
                    wait = (int)Math.Clamp((due - Stopwatch.GetTimestamp()) * 1000 / Stopwatch.Frequency, 0, wait);
                }

                poll.Returned = 0;
                var ready = Poll(&poll, 1, wait);
                if (ready < 0 && Marshal.GetLastPInvokeError() != Interrupted)
                {
                    throw new InvalidOperationException($"poll on the netfilter queue failed (errno {Marshal.GetLastPInvokeError()})");
                }

                if (ready > 0 && (poll.Returned & PollIn) != 0)
                {
                    // A full socket buffer (ENOBUFS) loses queued packets' notices; the kernel drops those packets,
                    // as a congested link would.
                    var read = Receive(socket, data, buffer.Length, 0);
                    if (read > 0)
                    {
                        _ = QueueHandlePacket(handle, data, (int)read);
                    }
                }

                ReleaseDue(Stopwatch.GetTimestamp());
            }

            // The rules are out: what is still in the socket gets its verdict too, and everything held goes.
            nint rest;
            while ((rest = Receive(socket, data, buffer.Length, DontWait)) > 0)
            {
                _ = QueueHandlePacket(handle, data, (int)rest);
            }
        }

        ReleaseDue(long.MaxValue);
    }

    private unsafe void ReleaseDue(long now)
    {
        while (_held.TryPeek(out var id, out var due) && due <= now)
        {
            _held.Dequeue();
            _ = QueueSetVerdict(_queue, id, Accept, 0, null);
        }
    }

    // Called by nfq_handle_packet, on the queue's thread. Nothing may throw out of it into native code.
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int OnPacket(nint queue, nint message, nint packet, nint state)
    {
        var header = QueuePacketHeader(packet);
        if (header == 0)
        {
            return 0;
        }

        var id = BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>((void*)header, sizeof(uint))); // nfqnl_msg_packet_hdr.packet_id
        try
        {
            return ((ImpairedLink)GCHandle.FromIntPtr(state).Target!).Judge(queue, id);
        }
#pragma warning disable CA1031 // A packet the link could not judge goes on as on a good link.
        catch (Exception)
#pragma warning restore CA1031
        {
            return QueueSetVerdict(queue, id, Accept, 0, null);
        }
    }

    private unsafe int Judge(nint queue, uint id)
    {
        Interlocked.Increment(ref _packets);
        if (_random.NextDouble() < _impairment.Loss)
        {
            Interlocked.Increment(ref _dropped);
            return QueueSetVerdict(queue, id, Drop, 0, null);
        }

        if (_impairment.Delay <= TimeSpan.Zero)
        {
            return QueueSetVerdict(queue, id, Accept, 0, null); // nothing to hold it for, nothing to overtake
        }

        if (_random.NextDouble() < _impairment.Reorder)
        {
            Interlocked.Increment(ref _reordered);
            return QueueSetVerdict(queue, id, Accept, 0, null);
        }

        Interlocked.Increment(ref _delayed);
        _held.Enqueue(id, Stopwatch.GetTimestamp() + (long)(_impairment.Delay.TotalSeconds * Stopwatch.Frequency));
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollDescriptor
    {
        public int Descriptor;
        public short Events;
        public short Returned;
    }

    private const string Library = "libnetfilter_queue.so.1";

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNamespace(int descriptor, int type);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static unsafe partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static unsafe partial nint Receive(int socket, byte* buffer, nint length, int flags);

    [LibraryImport(Library, EntryPoint = "nfq_open", SetLastError = true)]
    private static partial nint QueueOpen();

    [LibraryImport(Library, EntryPoint = "nfq_close")]
    private static partial int QueueClose(nint handle);

    [LibraryImport(Library, EntryPoint = "nfq_create_queue", SetLastError = true)]
    private static unsafe partial nint QueueCreate(nint handle, ushort number, delegate* unmanaged[Cdecl]<nint, nint, nint, nint, int> callback, nint state);

    [LibraryImport(Library, EntryPoint = "nfq_destroy_queue")]
    private static partial int QueueDestroy(nint queue);

    [LibraryImport(Library, EntryPoint = "nfq_set_mode", SetLastError = true)]
    private static partial int QueueSetMode(nint queue, byte mode, uint range);

    [LibraryImport(Library, EntryPoint = "nfq_set_queue_maxlen", SetLastError = true)]
    private static partial int QueueSetMaxLength(nint queue, uint length);

    [LibraryImport(Library, EntryPoint = "nfq_fd")]
    private static partial int QueueDescriptor(nint handle);

    [LibraryImport(Library, EntryPoint = "nfq_handle_packet")]
    private static unsafe partial int QueueHandlePacket(nint handle, byte* buffer, int length);

    [LibraryImport(Library, EntryPoint = "nfq_get_msg_packet_hdr")]
    private static partial nint QueuePacketHeader(nint packet);

    [LibraryImport(Library, EntryPoint = "nfq_set_verdict")]
    private static unsafe partial int QueueSetVerdict(nint queue, uint id, uint verdict, uint length, byte* data);
}
