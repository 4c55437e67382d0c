using System.Buffers.Binary;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;
using Graft.Model.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Libraries;

/// <summary>
/// Installs <see cref="LoaderTrapHandler"/> as the target's SIGTRAP handler while graftd watches
/// its loader, so that a graftd killed with its int3 still on r_brk (or the stub's, reached just
/// before graftd died) leaves a process that loads libraries on its own, and takes it away when
/// graftd lets the process go. A program with a SIGTRAP handler of its own keeps it: it relies
/// on the <see cref="LoaderStub"/>, which stops trapping once graftd is gone, or where graftd
/// could not put the stub in, on graftd staying alive.
/// </summary>
internal static class LoaderTrapGuard
{
    private const ulong SIGTRAP = 5;

    // struct sigaction as the kernel's rt_sigaction reads it on x86-64.
    private const int SigactionSize = 32;
    private const ulong SigsetSize = 8;

    /// <summary>
    /// True if the handler is in place (or was already), false if the program has a handler of
    /// its own, null if the process has no state mapping yet to hold the handler (ask again
    /// after an operation).
    /// </summary>
    public static bool? Install(TargetProcess target, ulong rBrk)
    {
        var store = new StateStore(target.Modules, target.Memory);
        store.Read();
        if (store.Address == 0)
        {
            return null;
        }

        var handler = store.Address + StateLayout.LoaderTrapHandlerOffset;
        var stubTrap = store.Address + StateLayout.LoaderStubOffset + LoaderStubCode.TrapOffset;
        return OnAThread(target, tid =>
        {
            var current = CurrentHandler(target, store, tid);
            if (current != 0 && current != handler)
            {
                return false;
            }

            target.Memory.Write(handler, LoaderTrapHandler.Code(rBrk, stubTrap));
            var action = new byte[SigactionSize];
            BinaryPrimitives.WriteUInt64LittleEndian(action, handler);
            BinaryPrimitives.WriteUInt64LittleEndian(action.AsSpan(8), Syscalls.SA_SIGINFO | Syscalls.SA_RESTORER | Syscalls.SA_ONSTACK);
            BinaryPrimitives.WriteUInt64LittleEndian(action.AsSpan(16), handler + LoaderTrapHandler.RestorerOffset);
            target.Memory.Write(store.Scratch, action);
            return target.Syscalls.RtSigaction(tid, SIGTRAP, store.Scratch, 0, SigsetSize);
        });
    }

    /// <summary>Puts SIGTRAP's default action back, if the handler there is still graft's.</summary>
    public static void Remove(TargetProcess target)
    {
        var store = new StateStore(target.Modules, target.Memory);
        store.Read();
        if (store.Address == 0)
        {
            return;
        }

        OnAThread(target, tid =>
        {
            if (CurrentHandler(target, store, tid) != store.Address + StateLayout.LoaderTrapHandlerOffset)
            {
                return false;
            }

            target.Memory.Write(store.Scratch, new byte[SigactionSize]);
            return target.Syscalls.RtSigaction(tid, SIGTRAP, store.Scratch, 0, SigsetSize);
        });
    }

    private static ulong CurrentHandler(TargetProcess target, StateStore store, int tid)
    {
        return target.Syscalls.RtSigaction(tid, SIGTRAP, 0, store.Scratch, SigsetSize) ? target.Memory.ReadUInt64(store.Scratch) : ulong.MaxValue;
    }

    /// <summary>
    /// Runs <paramref name="work"/> on whichever thread stops first, for system calls that take
    /// no lock of the program's (rt_sigaction, pidfd_open, close); false if none stopped.
    /// </summary>
    internal static bool OnAThread(TargetProcess target, Func<int, bool> work, string purpose = StopPurposes.LoaderTrapGuard)
    {
        foreach (var tid in target.ThreadIds.Where(t => !target.IsVforkChild(t)).ToList())
        {
            using var stopped = target.TryStop(tid, purpose);
            if (stopped is not null)
            {
                return work(tid);
            }
        }

        return false;
    }
}
