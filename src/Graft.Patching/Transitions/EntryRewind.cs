using Graft.Linux.Interop;
using Graft.Model.State;
using Graft.Patching.Redirect;
using Graft.Patching.Target;
using Graft.X86;
using Graft.X86.Contract;

namespace Graft.Patching.Transitions;

/// <summary>
/// A thread stopped in a function's dispatcher (before its self-switch, see <see cref="DispatcherCode.SelfSwitchFrom"/>), or on
/// the first instruction of the slot code in front of a replacement, has entered neither version of the function yet: it is
/// put back at the function's entry, with the
/// registers it had there, as if stopped just before its call arrived. Its stack is then its caller's, and it can be
/// switched like any thread whose stack is clean; on resuming it goes through the dispatcher again and reads its new
/// universe. Without this, a thread calling a patched function in a tight loop is nearly always caught in the
/// dispatcher, whose stack graft cannot unwind, and never switches.
/// </summary>
internal sealed class EntryRewind(IReadOnlyList<PatchedFunction> functions)
{
    /// <summary>
    /// Moves the stopped thread back to the entry if it stands in front of a function; returns its registers as they
    /// are now, so that the stack check reads them only once (the thread is stopped meanwhile).
    /// </summary>
    public UserRegs Apply(TargetProcess target, int tid)
    {
        var regs = target.Registers(tid);
        var function = functions.FirstOrDefault(f => InFront(f, regs.rip));
        if (function is null)
        {
            return regs;
        }

        var dispatcher = Redirects.Dispatcher(function);
        if (regs.rip >= dispatcher && regs.rip < dispatcher + SlotLayout.DispatcherCapacity)
        {
            if (DispatcherCode.EntryRegisters((int)(regs.rip - dispatcher), regs.rsp, regs.r10, regs.r11, target.Memory.ReadUInt64) is not { } entry)
            {
                // In the self-switch, a microsecond from its end: the sweep finds it in a slot and looks again later.
                return regs;
            }

            (regs.r10, regs.r11) = entry;
        }
        else if (regs.rip == PreservingStub(function) + PreservingEntry.JumpOffset)
        {
            // The stub has pushed its descriptor's address: take it off again.
            regs.rsp += 8;
        }

        regs.rip = function.PatchAddress;
        target.SetRegisters(tid, regs);
        return regs;
    }

    // The dispatcher changes no register and no memory a caller can see before it jumps on; the slot's jump through its
    // pointer is a single instruction, and the preserving stub only pushes a word before its jump.
    private static bool InFront(PatchedFunction function, ulong pc)
    {
        var dispatcher = Redirects.Dispatcher(function);
        return (pc >= dispatcher && pc < dispatcher + SlotLayout.DispatcherCapacity)
            || pc == function.Slot
            || (function.Entry is { Preserving: true } && (pc == PreservingStub(function) || pc == PreservingStub(function) + PreservingEntry.JumpOffset));
    }

    private static ulong PreservingStub(PatchedFunction function) => function.Slot + SlotLayout.PreserveOffset;
}
