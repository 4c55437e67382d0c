using Graft.X86.Internal;
using Iced.Intel;

namespace Graft.X86.References;

/// <summary>
/// Whether a function of an object file is, once linked, the code a binary runs: the same instructions in the
/// same order, compared one by one. A build with every function in a section of its own keeps a 5-byte jmp rel32
/// and a relocation where the binary's assembler, seeing the target nearby in the same section, made a 2-byte
/// jmp rel8; so a branch is compared by what it reaches (the symbol its relocation names, or the instruction it
/// lands on inside the function), not by its encoding, and nops (alignment padding that moves with such a
/// shortening) are left out. Every other instruction must have the same bytes, relocated fields aside.
/// </summary>
public static class SameCode
{
    /// <summary>
    /// Null when <paramref name="built"/> (with its relocated <paramref name="fields"/>) is the code of
    /// <paramref name="running"/>, which lies at <paramref name="runningAddress"/>; otherwise the first instruction
    /// that differs, with both disassemblies (<paramref name="nameOf"/> names an address of the binary).
    /// </summary>
    public static string? FirstDifference(
        ReadOnlySpan<byte> built, IReadOnlyList<RelocatedField> fields, ReadOnlySpan<byte> running, ulong runningAddress,
        Func<ulong, string?> nameOf)
    {
        var build = new Side(DecodedFunction.Decode(built, 0), built.ToArray());
        var binary = new Side(DecodedFunction.Decode(running, runningAddress), running.ToArray());
        if (build.Decoded.UndecodableOffset is { } badBuild)
        {
            return $"the build's code does not decode at {InstructionText.Offset(badBuild)}";
        }

        if (binary.Decoded.UndecodableOffset is { } badBinary)
        {
            return $"the binary's code does not decode at {InstructionText.Offset(badBinary)}";
        }

        var count = Math.Min(build.Code.Count, binary.Code.Count);
        for (var i = 0; i < count; i++)
        {
            var (b, r) = (build.Code[i], binary.Code[i]);
            var held = fields.Where(f => f.Offset >= (int)b.IP && f.Offset < (int)b.NextIP).ToList();
            if (!Same(build, b, held, binary, r))
            {
                var builtText = InstructionText.Format(b) + (held.Count == 0 ? "" : $" ({string.Join(", ", held.Select(f => f.Meaning))})");
                var runningText = InstructionText.Format(r) + (nameOf(Reach(r)) is { } name ? $" ({name})" : "");
                return $"the instruction at {InstructionText.Offset(build.Decoded.Offset(b.IP))} is '{builtText}' in the build "
                    + $"and '{runningText}' at {InstructionText.Offset(binary.Decoded.Offset(r.IP))} in the binary";
            }
        }

        return build.Code.Count == binary.Code.Count
            ? null
            : $"the build has {build.Code.Count} instructions (nops aside) and the binary {binary.Code.Count}; the first {count} are the same";
    }

    /// <summary>Whether <paramref name="b"/> of the build, holding the relocated fields <paramref name="held"/>, is <paramref name="r"/> of the binary.</summary>
    private static bool Same(Side build, in Instruction b, IReadOnlyList<RelocatedField> held, Side binary, in Instruction r)
    {
        if (IsDirectBranch(b) || IsDirectBranch(r))
        {
            if (!IsDirectBranch(b) || !IsDirectBranch(r) || b.Mnemonic != r.Mnemonic)
            {
                return false;
            }

            return held.Count == 0
                ? build.Label(b.NearBranchTarget) is { } label && label == binary.Label(r.NearBranchTarget)
                : held[0].Reaches is not { } target || r.NearBranchTarget == target;
        }

        if (b.Length != r.Length)
        {
            return false;
        }

        var builtBytes = build.Bytes(b);
        var runningBytes = binary.Bytes(r);
        foreach (var field in held)
        {
            // The linker may turn a GOT load into a lea of the symbol: the opcode and ModRM before the field change with it.
            var start = field.Offset - (int)b.IP;
            var from = field.IsGotLoad ? Math.Max(0, start - 2) : start;
            var end = Math.Min(builtBytes.Length, start + field.Size);
            builtBytes.AsSpan(from, end - from).Clear();
            runningBytes.AsSpan(from, end - from).Clear();
        }

        // A relocated RIP-relative operand must reach the same place (the first field of an instruction is its displacement).
        if (held is [{ IsGotLoad: false, Reaches: { } reaches }, ..] && r.IsIPRelativeMemoryOperand && r.IPRelativeMemoryAddress != reaches)
        {
            return false;
        }

        return builtBytes.AsSpan().SequenceEqual(runningBytes);
    }

    private static bool IsDirectBranch(in Instruction instruction) =>
        instruction.Op0Kind is OpKind.NearBranch16 or OpKind.NearBranch32 or OpKind.NearBranch64;

    private static ulong Reach(in Instruction instruction) =>
        IsDirectBranch(instruction) ? instruction.NearBranchTarget
        : instruction.IsIPRelativeMemoryOperand ? instruction.IPRelativeMemoryAddress
        : 0;

    /// <summary>One side of the comparison: its decoded instructions, and those that are not nops, in order.</summary>
    private sealed class Side(DecodedFunction decoded, byte[] bytes)
    {
        public DecodedFunction Decoded { get; } = decoded;

        public List<Instruction> Code { get; } = [.. decoded.Instructions.Where(i => i.Mnemonic != Mnemonic.Nop)];

        public byte[] Bytes(in Instruction instruction) => bytes.AsSpan(Decoded.Offset(instruction.IP), instruction.Length).ToArray();

        /// <summary>
        /// Which instruction (nops aside) a branch inside the function lands on: the first one at or after the
        /// instruction boundary it reaches; the end of the function counts as one past the last. Null when the
        /// address is not an instruction boundary of the function.
        /// </summary>
        public int? Label(ulong address)
        {
            if (address == Decoded.Address + (ulong)Decoded.DecodedLength)
            {
                return Code.Count;
            }

            if (!Decoded.Instructions.Any(i => i.IP == address))
            {
                return null;
            }

            var index = Code.FindIndex(i => i.IP >= address);
            return index < 0 ? Code.Count : index;
        }
    }
}
