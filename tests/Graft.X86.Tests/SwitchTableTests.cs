using System.Buffers.Binary;

namespace Graft.X86.Tests;

/// <summary>A switch's jump table is a branch too: a case inside the bytes the jump covers refuses the function.</summary>
public sealed class SwitchTableTests
{
    private const ulong NonPieFunction = 0x401120;
    private const ulong NonPieTable = 0x402000;
    private const ulong PieFunction = 0x7f12_3456_0000;
    private const ulong PieTable = PieFunction + 0x1000;

    // An interpreter loop whose head is at +2, just after its first instruction (gcc -O2 -fno-pie shape).
    private static readonly byte[] NonPieLoop =
    [
        0x89, 0xF0,                                // +0x00: mov eax,esi
        0x48, 0x83, 0xC7, 0x01,                    // +0x02: add rdi,1 (the loop head)
        0x0F, 0xB6, 0x57, 0xFF,                    // +0x06: movzx edx,byte ptr [rdi-1]
        0xFF, 0x24, 0xD5, 0x00, 0x20, 0x40, 0x00,  // +0x0a: jmp qword ptr [rdx*8+0x402000]
        0xC3,                                      // +0x11: ret
    ];

    // The same loop as PIE code: lea of the table, movsxd of an entry, add, jmp.
    private static readonly byte[] PieLoop =
    [
        0x48, 0x8D, 0x0D, 0xF9, 0x0F, 0x00, 0x00,  // +0x00: lea rcx,[rip+0xff9] (the table, at +0x1000)
        0x0F, 0xB6, 0x17,                          // +0x07: movzx edx,byte ptr [rdi]
        0x48, 0x63, 0x14, 0x91,                    // +0x0a: movsxd rdx,dword ptr [rcx+rdx*4]
        0x48, 0x01, 0xCA,                          // +0x0e: add rdx,rcx
        0xFF, 0xE2,                                // +0x11: jmp rdx
        0xC3,                                      // +0x13: ret
    ];

    [Fact]
    public void AnAbsoluteTableWithACaseInsideTheWindowIsRefused()
    {
        byte[] table = Words(NonPieFunction + 0x11, NonPieFunction + 0x02, 0);

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(NonPieLoop, NonPieFunction, Reader(NonPieTable, table));

        Assert.Equal(PrologueRefusal.BranchIntoWindow, analysis.Refusal);
        Assert.Equal("a case of a switch's jump table goes to +0x2, inside the 6 bytes to be rewritten (+0x0..+0x6)", analysis.Message);
    }

    [Fact]
    public void AnAbsoluteTableWhoseCasesLieOutsideTheWindowIsAccepted()
    {
        byte[] table = Words(NonPieFunction + 0x11, NonPieFunction + 0x06, 0);

        Assert.True(PrologueAnalyzer.Analyze(NonPieLoop, NonPieFunction, Reader(NonPieTable, table)).IsPatchable);
    }

    [Fact]
    public void ARelativeTableWithACaseInsideTheWindowIsRefused()
    {
        byte[] table = Offsets(0x13 - 0x1000, 0x03 - 0x1000, 0x5000);

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(PieLoop, PieFunction, Reader(PieTable, table));

        Assert.Equal(PrologueRefusal.BranchIntoWindow, analysis.Refusal);
        Assert.Contains("goes to +0x3", analysis.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ASwitchWhoseTableCannotBeFoundIsRefused()
    {
        byte[] loop = [.. PieLoop];
        loop[2] = 0x05; // lea rax,[rip+...]: the base the add uses (rcx) no longer comes from a lea

        PrologueAnalysis analysis = PrologueAnalyzer.Analyze(loop, PieFunction, Reader(PieTable, Offsets(0x13 - 0x1000)));

        Assert.Equal(PrologueRefusal.BranchIntoWindow, analysis.Refusal);
        Assert.StartsWith("the switch at +0x11 jumps through a table graft cannot find", analysis.Message, StringComparison.Ordinal);
    }

    private static Func<ulong, int, byte[]?> Reader(ulong tableAddress, byte[] table) => (address, length) =>
        address >= tableAddress && address + (ulong)length <= tableAddress + (ulong)table.Length
            ? table[(int)(address - tableAddress)..((int)(address - tableAddress) + length)]
            : null;

    private static byte[] Words(params ulong[] words)
    {
        byte[] bytes = new byte[words.Length * 8];
        for (int index = 0; index < words.Length; index++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(index * 8), words[index]);
        }

        return bytes;
    }

    private static byte[] Offsets(params int[] offsets)
    {
        byte[] bytes = new byte[offsets.Length * 4];
        for (int index = 0; index < offsets.Length; index++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(index * 4), offsets[index]);
        }

        return bytes;
    }
}
