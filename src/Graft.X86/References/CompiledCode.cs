using Graft.X86.Internal;
using Iced.Intel;

namespace Graft.X86.References;

/// <summary>A function's code as the compiler left it in an object file (offsets from its first byte),
/// decoded once, to find the instructions that hold its relocated fields.</summary>
public sealed class CompiledCode
{
    private readonly byte[] _code;
    private readonly DecodedFunction _decoded;

    public CompiledCode(ReadOnlySpan<byte> code)
    {
        _code = code.ToArray();
        _decoded = DecodedFunction.Decode(code, 0);
    }

    /// <summary>The instruction holding the field at <paramref name="fieldOffset"/>; null if no decoded instruction does.</summary>
    public ReferenceSite? Site(int fieldOffset)
    {
        if (InstructionAt(fieldOffset) is not { } instruction)
        {
            return null;
        }

        var start = (int)instruction.IP;
        var branch = instruction.FlowControl is FlowControl.Call or FlowControl.UnconditionalBranch or FlowControl.ConditionalBranch
            && instruction.Op0Kind == OpKind.NearBranch64;
        var displacement = instruction.IsIPRelativeMemoryOperand && DisplacementOffset(start) == fieldOffset - start;
        return new ReferenceSite(start, instruction.Length, branch, displacement, (int)instruction.NextIP - fieldOffset);
    }

    internal Instruction? InstructionAt(int offset) =>
        _decoded.Instructions.Cast<Instruction?>().FirstOrDefault(i => offset >= (int)i!.Value.IP && offset < (int)i.Value.NextIP);

    /// <summary>Where the displacement lies in the instruction at <paramref name="start"/>, as its own bytes encode it.</summary>
    private int DisplacementOffset(int start)
    {
        var offsets = DecodedFunction.ConstantOffsetsAt(_code, start);
        return offsets.HasDisplacement ? offsets.DisplacementOffset : -1;
    }
}
