using Graft.X86.Internal;

using Iced.Intel;

namespace Graft.X86;

/// <summary>Decides where and whether a function can be redirected with a 5-byte jump.</summary>
public static class PrologueAnalyzer
{
    private static ReadOnlySpan<byte> Endbr64 => [0xF3, 0x0F, 0x1E, 0xFA];

    /// <param name="functionBytes">The whole function (its symbol size) as read from the target.</param>
    /// <param name="functionAddress">The function's runtime address.</param>
    /// <param name="readData">Reads the object's data (switch tables in .rodata) at a runtime address, null where it has
    /// none; without it, switch tables are not checked.</param>
    /// <param name="isProfilingCall">Whether a call to (or through the pointer at) an address is the profiling hook gcc
    /// puts first in a function built with -pg (<c>__fentry__</c>, <c>mcount</c>): such a call in the window is left out
    /// of the relocated copy, as the kernel's ftrace replaces it, rather than refused.</param>
    public static PrologueAnalysis Analyze(ReadOnlySpan<byte> functionBytes, ulong functionAddress, Func<ulong, int, byte[]?>? readData = null,
        Func<ulong, bool>? isProfilingCall = null)
    {
        if ((UInt128)functionAddress + (ulong)functionBytes.Length > (UInt128)ulong.MaxValue + 1)
        {
            throw new ArgumentException(
                $"a function of {functionBytes.Length} bytes at 0x{functionAddress:x} would run past the end of the address space",
                nameof(functionBytes));
        }

        // The endbr64 stays in place so that indirect calls under IBT still land on it.
        int patchOffset = functionBytes.StartsWith(Endbr64) ? Endbr64.Length : 0;
        ulong patchAddress = functionAddress + (ulong)patchOffset;
        if (functionBytes.Length - patchOffset < JumpCode.JmpRel32Length)
        {
            return PrologueAnalysis.Refused(PrologueRefusal.TooSmall, TooSmallMessage(functionBytes.Length, patchOffset), patchAddress, []);
        }

        var function = DecodedFunction.Decode(functionBytes, functionAddress);
        PatchWindow? window = PatchWindow.Find(function, patchOffset);
        if (window is null)
        {
            int offset = function.UndecodableOffset ?? function.DecodedLength;
            return PrologueAnalysis.Refused(
                PrologueRefusal.UndecodableInstruction,
                $"the bytes at {InstructionText.Offset(offset)} ({InstructionText.Bytes(functionBytes[offset..], 8)}) do not decode "
                + $"as an x86-64 instruction, and the {JumpCode.JmpRel32Length}-byte jump at {InstructionText.Offset(patchOffset)} "
                + "must replace whole instructions",
                patchAddress,
                []);
        }

        byte[] windowBytes = functionBytes.Slice(window.StartOffset, window.Length).ToArray();
        Func<Instruction, bool> profiling = instruction => isProfilingCall is not null && ProfilingCall.Is(instruction, isProfilingCall);
        Verdict? verdict = WindowRules.Check(function, window, profiling) ?? BranchScan.Check(function, window)
            ?? (readData is null ? null : BranchScan.CheckSwitchTables(function, window, functionAddress + (ulong)functionBytes.Length, readData));
        if (verdict is not null)
        {
            return PrologueAnalysis.Refused(verdict.Refusal, verdict.Message, patchAddress, windowBytes);
        }

        string dropped = window.Instructions.Any(profiling) ? "; the profiling call is left out of the relocated copy" : "";
        return PrologueAnalysis.Patchable(
            patchAddress,
            windowBytes,
            [.. window.Instructions.Select(instruction => profiling(instruction) ? ProfilingCall.Nop(instruction) : instruction)],
            () => $"patchable: the jump replaces {window.Length} bytes at {InstructionText.Offset(window.StartOffset)}..{InstructionText.Offset(window.EndOffset)}: "
                + $"{string.Join("; ", window.Instructions.Select(instruction => InstructionText.Format(instruction)))}{dropped}");
    }

    private static string TooSmallMessage(int length, int patchOffset)
    {
        return patchOffset == 0
            ? $"function is {Bytes(length)} long; the {JumpCode.JmpRel32Length}-byte jump does not fit"
            : $"function is {Bytes(length)} long and starts with endbr64; the {Bytes(length - patchOffset)} after it "
              + $"cannot hold the {JumpCode.JmpRel32Length}-byte jump";
    }

    private static string Bytes(int count)
    {
        return count == 1 ? "1 byte" : $"{count} bytes";
    }
}
