using System.Globalization;
using System.Text.RegularExpressions;

using Graft.X86.Tests.Native;

namespace Graft.X86.Tests;

/// <summary>objdump, not Iced, reads the stub back: wherever it is placed, its branches and RIP-relative words land inside it.</summary>
public sealed partial class DispatcherDisassemblyTests
{
    private const int WordsOffset = 0x90;

    // objdump's listing with addresses inside the stub written relative to it.
    private static readonly string[] ExpectedListing =
    [
        "stub+0x0: mov QWORD PTR [rsp-0x8],r10",
        "stub+0x5: mov QWORD PTR [rsp-0x10],r11",
        "stub+0xa: mov r11,QWORD PTR fs:0x0",
        "stub+0x13: mov r10,r11",
        "stub+0x16: imul r10,QWORD PTR [rip+0x72] # stub+0x90",
        "stub+0x1e: shr r10,0x34",
        "stub+0x22: shl r10,0x4",
        "stub+0x26: add r10,QWORD PTR [rip+0x73] # stub+0xa0",
        "stub+0x2d: cmp QWORD PTR [r10],r11",
        "stub+0x30: je stub+0x4e",
        "stub+0x32: cmp QWORD PTR [r10],0x0",
        "stub+0x36: je stub+0x55",
        "stub+0x38: add r10,0x10",
        "stub+0x3c: cmp r10,QWORD PTR [rip+0x65] # stub+0xa8",
        "stub+0x43: jb stub+0x2d",
        "stub+0x45: mov r10,QWORD PTR [rip+0x54] # stub+0xa0",
        "stub+0x4c: jmp stub+0x2d",
        "stub+0x4e: test BYTE PTR [r10+0x8],0x1",
        "stub+0x53: jmp stub+0x60",
        "stub+0x55: mov r10,QWORD PTR [rip+0x3c] # stub+0x98",
        "stub+0x5c: test BYTE PTR [r10],0x1",
        "stub+0x60: mov r10,QWORD PTR [rsp-0x8]",
        "stub+0x65: mov r11,QWORD PTR [rsp-0x10]",
        "stub+0x6a: jne stub+0x72",
        "stub+0x6c: jmp QWORD PTR [rip+0x3e] # stub+0xb0",
        "stub+0x72: jmp QWORD PTR [rip+0x40] # stub+0xb8",
    ];

    [Theory]
    [InlineData(0x1000UL)]
    [InlineData(0x7f12_3450_0040UL)]
    [InlineData(0x7fff_ffff_ff40UL)] // the stub's last byte is the last of the user address space
    public void ObjdumpSeesTheSameCodeAtAnyAddress(ulong stubAddress)
    {
        byte[] stub = DispatcherCode.Build(stubAddress, 0x7f12_3400_0000, 0x7f12_3450_0010, 0x7f12_3460_0000);

        IEnumerable<string> listing = BinutilsReader.DisassembleBytes(stub[..WordsOffset], stubAddress)
            .Where(instruction => instruction.Text != "int3")
            .Select(instruction => Relative($"0x{instruction.Address:x}: {instruction.Text}", stubAddress));

        Assert.Equal(ExpectedListing, listing);
    }

    private static string Relative(string line, ulong stubAddress)
    {
        string compact = Whitespace().Replace(line, " ");
        return HexNumber().Replace(compact, match =>
        {
            ulong value = ulong.Parse(match.Value.AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            bool insideStub = value >= stubAddress && value - stubAddress < SlotLayout.DispatcherCapacity;
            return insideStub ? $"stub+0x{value - stubAddress:x}" : match.Value;
        });
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex("0x[0-9a-f]+")]
    private static partial Regex HexNumber();
}
