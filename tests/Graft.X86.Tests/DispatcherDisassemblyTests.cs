using System.Globalization;
using System.Text.RegularExpressions;

using Graft.X86.Tests.Native;

namespace Graft.X86.Tests;

/// <summary>objdump, not Iced, reads the stub back: wherever it is placed, its branches and RIP-relative words land inside it.</summary>
public sealed partial class DispatcherDisassemblyTests
{
    private const int WordsOffset = 0x1d0;

    // objdump's listing with addresses inside the stub written relative to it.
    private static readonly string[] ExpectedListing =
    [
        "stub+0x0: mov QWORD PTR [rsp-0x8],r10",
        "stub+0x5: mov QWORD PTR [rsp-0x10],r11",
        "stub+0xa: mov r11,QWORD PTR fs:0x0",
        "stub+0x13: mov r10,r11",
        "stub+0x16: imul r10,QWORD PTR [rip+0x1b2] # stub+0x1d0",
        "stub+0x1e: shr r10,0x34",
        "stub+0x22: shl r10,0x5",
        "stub+0x26: add r10,QWORD PTR [rip+0x1b3] # stub+0x1e0",
        "stub+0x2d: cmp QWORD PTR [r10],r11",
        "stub+0x30: je stub+0x4e",
        "stub+0x32: cmp QWORD PTR [r10],0x0",
        "stub+0x36: je stub+0x6f",
        "stub+0x38: add r10,0x20",
        "stub+0x3c: cmp r10,QWORD PTR [rip+0x1a5] # stub+0x1e8",
        "stub+0x43: jb stub+0x2d",
        "stub+0x45: mov r10,QWORD PTR [rip+0x194] # stub+0x1e0",
        "stub+0x4c: jmp stub+0x2d",
        "stub+0x4e: mov r11,QWORD PTR [rip+0x183] # stub+0x1d8",
        "stub+0x55: movzx r11d,BYTE PTR [r11+0x1]",
        "stub+0x5a: test r11d,r11d",
        "stub+0x5d: je stub+0x68",
        "stub+0x5f: dec r11d",
        "stub+0x62: cmp BYTE PTR [r10+0x8],r11b",
        "stub+0x66: jne stub+0x92",
        "stub+0x68: test BYTE PTR [r10+0x8],0x1",
        "stub+0x6d: jmp stub+0x7a",
        "stub+0x6f: mov r10,QWORD PTR [rip+0x162] # stub+0x1d8",
        "stub+0x76: test BYTE PTR [r10],0x1",
        "stub+0x7a: mov r10,QWORD PTR [rsp-0x8]",
        "stub+0x7f: mov r11,QWORD PTR [rsp-0x10]",
        "stub+0x84: jne stub+0x8c",
        "stub+0x86: jmp QWORD PTR [rip+0x164] # stub+0x1f0",
        "stub+0x8c: jmp QWORD PTR [rip+0x166] # stub+0x1f8",
        "stub+0x92: mov QWORD PTR [rsp-0x18],rax",
        "stub+0x97: mov QWORD PTR [rsp-0x20],rcx",
        "stub+0x9c: mov QWORD PTR [rsp-0x28],rdx",
        "stub+0xa1: mov QWORD PTR [rsp-0x30],rsi",
        "stub+0xa6: mov QWORD PTR [rsp-0x38],rdi",
        "stub+0xab: mov QWORD PTR [rsp-0x40],r8",
        "stub+0xb0: mov QWORD PTR [rsp-0x48],r9",
        "stub+0xb5: rdtsc",
        "stub+0xb7: shrd eax,edx,0x10",
        "stub+0xbb: or eax,0x1",
        "stub+0xc0: mov ecx,DWORD PTR [r10+0xc]",
        "stub+0xc4: test ecx,ecx",
        "stub+0xc6: je stub+0xd5",
        "stub+0xc8: mov edx,eax",
        "stub+0xca: sub edx,ecx",
        "stub+0xcc: cmp edx,0x4",
        "stub+0xcf: jb stub+0x193",
        "stub+0xd5: mov DWORD PTR [r10+0xc],eax",
        "stub+0xd9: cmp rsp,QWORD PTR [r10+0x10]",
        "stub+0xdd: jb stub+0x193",
        "stub+0xe3: cmp rsp,QWORD PTR [r10+0x18]",
        "stub+0xe7: jae stub+0x193",
        "stub+0xed: xor edi,edi",
        "stub+0xef: lea rsi,[rsp-0x68]",
        "stub+0xf4: mov eax,0x83",
        "stub+0xf9: syscall",
        "stub+0xfb: test rax,rax",
        "stub+0xfe: jne stub+0x193",
        "stub+0x104: test BYTE PTR [rsp-0x60],0x1",
        "stub+0x109: jne stub+0x193",
        "stub+0x10f: mov rcx,QWORD PTR [rip+0xc2] # stub+0x1d8",
        "stub+0x116: add rcx,0x20040",
        "stub+0x11d: mov rsi,rsp",
        "stub+0x120: mov rdi,QWORD PTR [r10+0x18]",
        "stub+0x124: cmp rsi,rdi",
        "stub+0x127: jae stub+0x17b",
        "stub+0x129: mov rax,QWORD PTR [rsi]",
        "stub+0x12c: add rsi,0x8",
        "stub+0x130: cmp rax,QWORD PTR [rcx+0x8]",
        "stub+0x134: jb stub+0x124",
        "stub+0x136: cmp rax,QWORD PTR [rcx+0x10]",
        "stub+0x13a: jae stub+0x124",
        "stub+0x13c: xor edx,edx",
        "stub+0x13e: mov r8,QWORD PTR [rcx]",
        "stub+0x141: cmp rdx,r8",
        "stub+0x144: jae stub+0x166",
        "stub+0x146: lea r9,[rdx+r8*1]",
        "stub+0x14a: shr r9,1",
        "stub+0x14d: mov r11,r9",
        "stub+0x150: shl r11,0x4",
        "stub+0x154: cmp rax,QWORD PTR [rcx+r11*1+0x20]",
        "stub+0x159: jb stub+0x161",
        "stub+0x15b: lea rdx,[r9+0x1]",
        "stub+0x15f: jmp stub+0x141",
        "stub+0x161: mov r8,r9",
        "stub+0x164: jmp stub+0x141",
        "stub+0x166: test rdx,rdx",
        "stub+0x169: je stub+0x124",
        "stub+0x16b: mov r11,rdx",
        "stub+0x16e: shl r11,0x4",
        "stub+0x172: cmp rax,QWORD PTR [rcx+r11*1+0x18]",
        "stub+0x177: jb stub+0x193",
        "stub+0x179: jmp stub+0x124",
        "stub+0x17b: mov r11,QWORD PTR [rip+0x56] # stub+0x1d8",
        "stub+0x182: movzx r11d,BYTE PTR [r11+0x1]",
        "stub+0x187: test r11d,r11d",
        "stub+0x18a: je stub+0x193",
        "stub+0x18c: dec r11d",
        "stub+0x18f: mov BYTE PTR [r10+0x8],r11b",
        "stub+0x193: mov rax,QWORD PTR [rsp-0x18]",
        "stub+0x198: mov rcx,QWORD PTR [rsp-0x20]",
        "stub+0x19d: mov rdx,QWORD PTR [rsp-0x28]",
        "stub+0x1a2: mov rsi,QWORD PTR [rsp-0x30]",
        "stub+0x1a7: mov rdi,QWORD PTR [rsp-0x38]",
        "stub+0x1ac: mov r8,QWORD PTR [rsp-0x40]",
        "stub+0x1b1: mov r9,QWORD PTR [rsp-0x48]",
        "stub+0x1b6: jmp stub+0x68",
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
