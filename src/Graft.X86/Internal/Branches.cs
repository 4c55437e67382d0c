using Iced.Intel;

namespace Graft.X86.Internal;

/// <summary>Direct (relative) branch targets: jmp, jcc, loop, jrcxz, call rel and xbegin.</summary>
internal static class Branches
{
    public static ulong? DirectTarget(in Instruction instruction)
    {
        for (int operand = 0; operand < instruction.OpCount; operand++)
        {
            if (instruction.GetOpKind(operand) is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64)
            {
                return instruction.NearBranchTarget;
            }
        }

        return null;
    }
}
