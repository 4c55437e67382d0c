using System.Buffers.Binary;
using System.Text;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Seccomp;
using Graft.Linux.Tracing;
using Graft.Model.State;
using Graft.Patching.Redirect;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Libraries;

/// <summary>
/// graftd's loader stub in a watched process (<see cref="LoaderStubCode"/>, in the state
/// mapping's code page): r_brk jumps to it, and it traps into graftd only for the events graftd
/// wants (<see cref="Want"/>), only in the process graftd watches, and only while graftd lives.
/// So a graftd killed outright leaves nothing behind that raises a SIGTRAP, whatever handler the
/// program has, and a forked child of a watched process loads libraries untouched.
/// <para>
/// The stub needs what a plain int3 on r_brk does not, and graftd falls back to that int3
/// without it: a state mapping (after the first apply), a pidfd of graftd that the process can
/// open (the same pid namespace: pidfd_open runs in the process, which would read graftd's pid
/// in its own namespace), no seccomp filter on any thread (the stub makes getpid and poll calls
/// on the program's threads, which a filter could refuse or punish), and r_brk followed by
/// padding up to the next 16-byte boundary, room for the 14-byte jump.
/// </para>
/// </summary>
internal sealed class LoaderStub
{
    private const byte Ret = 0xc3;
    private const byte Int3 = 0xcc;
    private const ulong FunctionAlignment = 16;

    // The stub's place in the code page leaves the rest of the page to its known hashes.
    private static readonly int KnownCapacity = LoaderStubCode.KnownCapacity((int)(StateLayout.PageSize - (StateLayout.LoaderStubOffset - StateLayout.CodeOffset)));

    private readonly TargetProcess target;
    private readonly ulong rBrk;
    private readonly ulong address;
    private int pidfd;

    private LoaderStub(TargetProcess target, ulong rBrk, ulong address, int pidfd, LoaderChannel? channel)
    {
        this.target = target;
        this.rBrk = rBrk;
        this.address = address;
        this.pidfd = pidfd;
        Channel = channel;
    }

    /// <summary>The stub's int3, for <see cref="Linux.Policies.LoaderWatch.Watch"/>.</summary>
    public ulong TrapAddress => address + LoaderStubCode.TrapOffset;

    /// <summary>Where a thread that found graftd tracing the process goes on to the int3 (<see cref="LoaderStubCode.TrapWindowStart"/>), inclusive.</summary>
    public (ulong Start, ulong End) TrapWindow => (address + LoaderStubCode.TrapWindowStart, TrapAddress);

    /// <summary>The socket the stub calls graftd back on while graftd does not trace the process; null where the process could not open it.</summary>
    public LoaderChannel? Channel { get; private set; }

    /// <summary>graftd's pidfd in the process, which the stub polls before it traps.</summary>
    public int Pidfd => pidfd;

    /// <summary>Whether r_brk jumps to the stub (a graftd before this one may have left the jump).</summary>
    public bool IsJumpedTo => LoaderStubCode.JumpTarget(target.Memory.Read(rBrk, LoaderStubCode.JumpSize)) == address;

    /// <summary>
    /// Writes the stub and arms it for this graftd (its int3 still a `ret`: the watch arms that);
    /// null where the stub cannot serve (above), and the int3 on r_brk must.
    /// </summary>
    public static LoaderStub? TryArm(TargetProcess target, LoaderDebugState debugState)
    {
        var mapping = StateStore.FindMapping(target.Modules);
        if (mapping == 0 || !InGraftdsPidNamespace(target.Pid) || UnderSeccomp(target))
        {
            return null;
        }

        var rBrk = debugState.Brk;
        var address = mapping + StateLayout.LoaderStubOffset;
        var head = target.Memory.Read(rBrk, (int)FunctionAlignment);
        if (LoaderStubCode.JumpTarget(head) is { } jumpTarget)
        {
            if (jumpTarget != address)
            {
                return null;
            }

            // A graftd before this one left its stub: its descriptor goes if it is still its.
            var previous = target.Memory.Read(address, LoaderStubCode.Size);
            if (BitConverter.ToUInt32(previous, LoaderStubCode.LayoutMarkOffset) != LoaderStubCode.LayoutMark)
            {
                throw new GraftException(GraftFailure.Refused,
                    $"r_brk of process {target.Pid} jumps to a loader stub that a graftd of another version wrote: graftd does not rewrite code a thread may be running, so it cannot watch the process's libraries until the process restarts");
            }

            CloseIfStale(target, BitConverter.ToInt32(previous, LoaderStubCode.GraftdPidfdOffset), BitConverter.ToInt32(previous, LoaderStubCode.GraftdPidOffset));
            CloseIfStaleSocket(target, BitConverter.ToInt32(previous, LoaderStubCode.SocketOffset), BitConverter.ToUInt64(previous, LoaderStubCode.SocketCookieOffset), mapping + StateLayout.ScratchOffset);
        }
        else if (!HasRoomForTheJump(rBrk, head))
        {
            return null;
        }

        // Disarmed first (no event wanted, no pidfd), so that a thread already in the stub leaves it.
        target.Memory.WriteUInt32(address + LoaderStubCode.WantedEventsOffset, 0);
        target.Memory.Write(address, LoaderStubCode.Code(debugState.Address, target.Pid));
        var opened = -1L;
        LoaderTrapGuard.OnAThread(target, tid => (opened = target.Syscalls.TryPidfdOpen(tid, Environment.ProcessId)) >= 0, StopPurposes.LoaderStub);
        if (opened < 0)
        {
            return null;
        }

        // Without the socket the stub serves as before, graftd staying attached.
        LoaderChannel? channel = null;
        try
        {
            LoaderTrapGuard.OnAThread(target, tid => (channel = LoaderChannel.Open(target, tid, mapping + StateLayout.ScratchOffset)) is not null, StopPurposes.LoaderStub);
        }
        catch (Exception e) when (e is InjectionException or System.Net.Sockets.SocketException)
        {
            channel = null;
        }

        target.Memory.WriteUInt32(address + LoaderStubCode.GraftdPidOffset, (uint)Environment.ProcessId);
        target.Memory.WriteUInt32(address + LoaderStubCode.GraftdPidfdOffset, (uint)opened);
        if (channel is not null)
        {
            target.Memory.WriteUInt64(address + LoaderStubCode.SocketCookieOffset, channel.Cookie);
            target.Memory.WriteUInt32(address + LoaderStubCode.SocketOffset, (uint)channel.ProcessFd);
        }

        var stub = new LoaderStub(target, rBrk, address, (int)opened, channel);
        stub.Attach();

        // Wanted last: pairs with the stub reading it before the pid and the pidfd.
        stub.Want(Every);
        return stub;
    }

    /// <summary>
    /// The stub this graftd left armed when it detached (<paramref name="detached"/>), taken back
    /// as it was, its events still wanted and a thread perhaps waiting in it for graftd's answer;
    /// null if the process no longer has it as graftd left it (it executed another program,
    /// closed graftd's descriptors), and graftd arms it again from scratch.
    /// </summary>
    public static LoaderStub? Adopt(TargetProcess target, LoaderDebugState debugState, DetachedLoaderWatch detached)
    {
        var mapping = StateStore.FindMapping(target.Modules);
        if (mapping == 0)
        {
            return null;
        }

        var address = mapping + StateLayout.LoaderStubOffset;
        var fields = target.Memory.Read(address, LoaderStubCode.Size);
        var channel = detached.Channel;
        var fits = LoaderStubCode.JumpTarget(target.Memory.Read(debugState.Brk, LoaderStubCode.JumpSize)) == address
            && BitConverter.ToInt32(fields, LoaderStubCode.GraftdPidOffset) == Environment.ProcessId
            && BitConverter.ToInt32(fields, LoaderStubCode.GraftdPidfdOffset) == detached.Pidfd
            && BitConverter.ToInt32(fields, LoaderStubCode.SocketOffset) == channel.ProcessFd
            && BitConverter.ToUInt64(fields, LoaderStubCode.SocketCookieOffset) == channel.Cookie
            && detached.IsIntact(target.Pid);
        return fits ? new LoaderStub(target, debugState.Brk, address, detached.Pidfd, channel) : null;
    }

    /// <summary>
    /// graftd traces the process: a wanted event traps. The field first, then the answers to the
    /// calls kept (pairs with the stub reading the field again after each answer).
    /// </summary>
    public void Attach()
    {
        target.Memory.WriteUInt32(address + LoaderStubCode.AttachedOffset, 1);
        Channel?.SetAttached(true);
    }

    /// <summary>
    /// graftd is about to stop tracing the process: a wanted event calls it back from now on.
    /// No more answers first, then the field; a thread that read the field before is in
    /// <see cref="TrapWindow"/> and must reach the int3 before graftd detaches.
    /// </summary>
    public void Detach()
    {
        Channel?.SetAttached(false);
        target.Memory.WriteUInt32(address + LoaderStubCode.AttachedOffset, 0);
    }

    /// <summary>Every loader event, as an int3 on r_brk would see it.</summary>
    public static uint Every => (1u << (int)LoaderState.Consistent) | (1u << (int)LoaderState.Adding) | (1u << (int)LoaderState.Deleting);

    /// <summary>The events the stub traps for from now on: a bit per r_state, and <see cref="LoaderStubCode.KnownObjectsFilter"/>.</summary>
    public void Want(uint events) => target.Memory.WriteUInt32(address + LoaderStubCode.WantedEventsOffset, events);

    /// <summary>
    /// Tells the stub which objects graftd knows, by the names the loader has for them; false
    /// if there are more than its page holds. Their count goes to 0 first, so that a thread that
    /// reads the hashes meanwhile finds none known, and traps, rather than a mix.
    /// </summary>
    public bool Know(IEnumerable<string> names)
    {
        var hashes = names.Select(n => LoaderStubCode.NameHash(Encoding.UTF8.GetBytes(n))).Distinct().ToList();
        if (hashes.Count > KnownCapacity)
        {
            return false;
        }

        var bytes = new byte[hashes.Count * sizeof(ulong)];
        for (var index = 0; index < hashes.Count; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(index * sizeof(ulong)), hashes[index]);
        }

        target.Memory.WriteUInt32(address + LoaderStubCode.KnownCountOffset, 0);
        target.Memory.Write(address + LoaderStubCode.KnownHashesOffset, bytes);
        target.Memory.WriteUInt32(address + LoaderStubCode.KnownCountOffset, (uint)hashes.Count);
        return true;
    }

    /// <summary>
    /// Sends r_brk to the stub with the int3 protocol, while the program's threads run: a thread
    /// that reaches r_brk meanwhile goes on at the stub. r_brk's `ret` is one instruction and its
    /// padding is never run, so no thread can be inside the bytes written.
    /// </summary>
    public void WriteJump()
    {
        var writer = new CodeWriter(target);
        writer.Prepare();
        writer.Write([new CodeEdit(rBrk, LoaderStubCode.Jump(address), address)]);
    }

    /// <summary>
    /// No event wanted and no pidfd any more (the stub then only reads r_state and returns),
    /// and graftd's descriptor closed in the process. The jump stays for the next graftd.
    /// </summary>
    public void Disarm()
    {
        // Wanted first: pairs with the stub reading it before the pidfd and the socket, which then go.
        target.Memory.WriteUInt32(address + LoaderStubCode.WantedEventsOffset, 0);
        target.Memory.WriteUInt32(address + LoaderStubCode.GraftdPidfdOffset, unchecked((uint)-1));
        target.Memory.WriteUInt32(address + LoaderStubCode.SocketOffset, unchecked((uint)-1));
        if (pidfd >= 0)
        {
            CloseInTarget(target, pidfd);
            pidfd = -1;
        }

        if (Channel is not null)
        {
            CloseInTarget(target, Channel.ProcessFd);
            Channel.Dispose();
            Channel = null;
        }
    }

    /// <summary>A `ret` (or an int3 of a graftd before) followed by padding to the next function's alignment, 14 bytes or more in all.</summary>
    private static bool HasRoomForTheJump(ulong rBrk, byte[] head)
    {
        var room = (int)(((rBrk + 1 + FunctionAlignment - 1) & ~(FunctionAlignment - 1)) - rBrk);
        return head[0] is Ret or Int3 && room >= LoaderStubCode.JumpSize && Padding.IsPadding(head.AsSpan(1, room - 1));
    }

    /// <summary>Whether the process sees graftd by the pid graftd has (pidfd_open runs in the process).</summary>
    private static bool InGraftdsPidNamespace(int pid)
    {
        try
        {
            return new FileInfo("/proc/self/ns/pid").LinkTarget is { } own && own == new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool UnderSeccomp(TargetProcess target) =>
        target.ThreadIds.Any(tid => SeccompStatus.Read(target.Pid, tid) is not (SeccompMode.Disabled or null));

    /// <summary>
    /// Closes the descriptor a graftd before this one left, if it still is a pidfd of that
    /// graftd, or of a process gone (fdinfo's Pid -1): the program may have reused the number.
    /// </summary>
    private static void CloseIfStale(TargetProcess target, int fd, int graftdPid)
    {
        if (fd >= 0 && PidfdOwner(target.Pid, fd) is { } owner && (owner == -1 || owner == graftdPid))
        {
            CloseInTarget(target, fd);
        }
    }

    /// <summary>Whose pidfd the descriptor of process <paramref name="pid"/> is (-1: a process gone); null if it is no pidfd.</summary>
    internal static int? PidfdOwner(int pid, int fd)
    {
        try
        {
            var link = new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget ?? "";
            var owner = File.ReadLines($"/proc/{pid}/fdinfo/{fd}").FirstOrDefault(l => l.StartsWith("Pid:", StringComparison.Ordinal));
            return link.Contains("pidfd", StringComparison.Ordinal) && owner is not null && int.TryParse(owner["Pid:".Length..].Trim(), out var of)
                ? of
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Closes the socket a graftd before this one left, if the descriptor still is that socket (its cookie): the program may have reused the number.</summary>
    private static void CloseIfStaleSocket(TargetProcess target, int fd, ulong cookie, ulong scratch)
    {
        if (fd < 0)
        {
            return;
        }

        LoaderTrapGuard.OnAThread(target, tid =>
        {
            target.Memory.Write(scratch + sizeof(ulong), BitConverter.GetBytes(sizeof(ulong)));
            if (target.Syscalls.TryGetsockopt(tid, fd, Syscalls.SOL_SOCKET, Syscalls.SO_COOKIE, scratch, scratch + sizeof(ulong)) == 0
                && target.Memory.ReadUInt64(scratch) == cookie)
            {
                target.Syscalls.Close(tid, fd);
            }

            return true;
        }, StopPurposes.LoaderStub);
    }

    private static void CloseInTarget(TargetProcess target, int fd) => LoaderTrapGuard.OnAThread(target, tid =>
    {
        target.Syscalls.Close(tid, fd);
        return true;
    }, StopPurposes.LoaderStub);
}
