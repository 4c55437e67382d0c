using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>
/// The call gcc's -pg puts at a function's start (<c>call __fentry__</c> with -mfentry, <c>call mcount</c> after the
/// frame setup without it), directly or through the GOT. In the relocated copy it becomes a one-byte nop at the same
/// place, so that a thread found on it is moved to the copy like any other, and goes on without calling the hook.
/// </summary>
internal static class ProfilingCall
{
    public static bool Is(in Instruction instruction, Func<ulong, bool> isProfilingTarget)
    {
        if (instruction.Mnemonic != Mnemonic.Call)
        {
            return false;
        }

        if (Branches.DirectTarget(instruction) is ulong target)
        {
            return isProfilingTarget(target);
        }

        return instruction.IsIPRelativeMemoryOperand && isProfilingTarget(instruction.IPRelativeMemoryAddress);
    }

    public static Instruction Nop(in Instruction call)
    {
        var nop = Instruction.Create(Code.Nopd);
        nop.IP = call.IP;
        return nop;
    }
}
