using System.Globalization;
using System.Text.RegularExpressions;

using Graft.X86.Tests.Native;

namespace Graft.X86.Tests;

/// <summary>objdump, not Iced, reads the stub back: wherever it is placed, its branches and RIP-relative words land inside it.</summary>
public sealed partial class DispatcherDisassemblyTests
{
    private const int WordsOffset = 0x210;

    // objdump's listing with addresses inside the stub written relative to it.
    private static readonly string[] ExpectedListing =
    [
        "stub+0x0: mov QWORD PTR [rsp-0x8],r10",
        "stub+0x5: mov QWORD PTR [rsp-0x10],r11",
        "stub+0xa: mov r11,QWORD PTR fs:0x0",
        "stub+0x13: mov r10,r11",
        "stub+0x16: imul r10,QWORD PTR [rip+0x1f2] # stub+0x210",
        "stub+0x1e: shr r10,0x34",
        "stub+0x22: shl r10,0x6",
        "stub+0x26: add r10,QWORD PTR [rip+0x1f3] # stub+0x220",
        "stub+0x2d: cmp QWORD PTR [r10],r11",
        "stub+0x30: je stub+0x4e",
        "stub+0x32: cmp QWORD PTR [r10],0x0",
        "stub+0x36: je stub+0x6f",
        "stub+0x38: add r10,0x40",
        "stub+0x3c: cmp r10,QWORD PTR [rip+0x1e5] # stub+0x228",
        "stub+0x43: jb stub+0x2d",
        "stub+0x45: mov r10,QWORD PTR [rip+0x1d4] # stub+0x220",
        "stub+0x4c: jmp stub+0x2d",
        "stub+0x4e: mov r11,QWORD PTR [rip+0x1c3] # stub+0x218",
        "stub+0x55: movzx r11d,BYTE PTR [r11+0x1]",
        "stub+0x5a: test r11d,r11d",
        "stub+0x5d: je stub+0x68",
        "stub+0x5f: dec r11d",
        "stub+0x62: cmp BYTE PTR [r10+0x8],r11b",
        "stub+0x66: jne stub+0x92",
        "stub+0x68: test BYTE PTR [r10+0x8],0x1",
        "stub+0x6d: jmp stub+0x7a",
        "stub+0x6f: mov r10,QWORD PTR [rip+0x1a2] # stub+0x218",
        "stub+0x76: test BYTE PTR [r10],0x1",
        "stub+0x7a: mov r10,QWORD PTR [rsp-0x8]",
        "stub+0x7f: mov r11,QWORD PTR [rsp-0x10]",
        "stub+0x84: jne stub+0x8c",
        "stub+0x86: jmp QWORD PTR [rip+0x1a4] # stub+0x230",
        "stub+0x8c: jmp QWORD PTR [rip+0x1a6] # stub+0x238",
        "stub+0x92: mov QWORD PTR [rsp-0x18],rax",
        "stub+0x97: mov QWORD PTR [rsp-0x20],rcx",
        "stub+0x9c: mov QWORD PTR [rsp-0x28],rdx",
        "stub+0xa1: mov QWORD PTR [rsp-0x30],rsi",
        "stub+0xa6: mov QWORD PTR [rsp-0x38],rdi",
        "stub+0xab: mov QWORD PTR [rsp-0x40],r8",
        "stub+0xb0: mov QWORD PTR [rsp-0x48],r9",
        "stub+0xb5: mov r11,QWORD PTR [rip+0x15c] # stub+0x218",
        "stub+0xbc: movzx ecx,BYTE PTR [r11+0x1]",
        "stub+0xc1: cmp BYTE PTR [r10+0x9],cl",
        "stub+0xc5: jne stub+0xe1",
        "stub+0xc7: mov eax,DWORD PTR [r10+0x24]",
        "stub+0xcb: cmp eax,DWORD PTR [r10+0x20]",
        "stub+0xcf: jne stub+0xdc",
        "stub+0xd1: dec ecx",
        "stub+0xd3: mov BYTE PTR [r10+0x8],cl",
        "stub+0xd7: jmp stub+0x1ce",
        "stub+0xdc: mov BYTE PTR [r10+0x9],0x0",
        "stub+0xe1: inc DWORD PTR [r10+0x20]",
        "stub+0xe5: cmp BYTE PTR [r11+0x2],0x0",
        "stub+0xea: je stub+0x1ce",
        "stub+0xf0: rdtsc",
        "stub+0xf2: shrd eax,edx,0x10",
        "stub+0xf6: or eax,0x1",
        "stub+0xfb: mov ecx,DWORD PTR [r10+0xc]",
        "stub+0xff: test ecx,ecx",
        "stub+0x101: je stub+0x110",
        "stub+0x103: mov edx,eax",
        "stub+0x105: sub edx,ecx",
        "stub+0x107: cmp edx,0x4",
        "stub+0x10a: jb stub+0x1ce",
        "stub+0x110: mov DWORD PTR [r10+0xc],eax",
        "stub+0x114: cmp rsp,QWORD PTR [r10+0x10]",
        "stub+0x118: jb stub+0x1ce",
        "stub+0x11e: cmp rsp,QWORD PTR [r10+0x18]",
        "stub+0x122: jae stub+0x1ce",
        "stub+0x128: xor edi,edi",
        "stub+0x12a: lea rsi,[rsp-0x68]",
        "stub+0x12f: mov eax,0x83",
        "stub+0x134: syscall",
        "stub+0x136: test rax,rax",
        "stub+0x139: jne stub+0x1ce",
        "stub+0x13f: test BYTE PTR [rsp-0x60],0x1",
        "stub+0x144: jne stub+0x1ce",
        "stub+0x14a: mov rcx,QWORD PTR [rip+0xc7] # stub+0x218",
        "stub+0x151: add rcx,0x40040",
        "stub+0x158: mov rsi,rsp",
        "stub+0x15b: mov rdi,QWORD PTR [r10+0x18]",
        "stub+0x15f: cmp rsi,rdi",
        "stub+0x162: jae stub+0x1b6",
        "stub+0x164: mov rax,QWORD PTR [rsi]",
        "stub+0x167: add rsi,0x8",
        "stub+0x16b: cmp rax,QWORD PTR [rcx+0x8]",
        "stub+0x16f: jb stub+0x15f",
        "stub+0x171: cmp rax,QWORD PTR [rcx+0x10]",
        "stub+0x175: jae stub+0x15f",
        "stub+0x177: xor edx,edx",
        "stub+0x179: mov r8,QWORD PTR [rcx]",
        "stub+0x17c: cmp rdx,r8",
        "stub+0x17f: jae stub+0x1a1",
        "stub+0x181: lea r9,[rdx+r8*1]",
        "stub+0x185: shr r9,1",
        "stub+0x188: mov r11,r9",
        "stub+0x18b: shl r11,0x4",
        "stub+0x18f: cmp rax,QWORD PTR [rcx+r11*1+0x20]",
        "stub+0x194: jb stub+0x19c",
        "stub+0x196: lea rdx,[r9+0x1]",
        "stub+0x19a: jmp stub+0x17c",
        "stub+0x19c: mov r8,r9",
        "stub+0x19f: jmp stub+0x17c",
        "stub+0x1a1: test rdx,rdx",
        "stub+0x1a4: je stub+0x15f",
        "stub+0x1a6: mov r11,rdx",
        "stub+0x1a9: shl r11,0x4",
        "stub+0x1ad: cmp rax,QWORD PTR [rcx+r11*1+0x18]",
        "stub+0x1b2: jb stub+0x1ce",
        "stub+0x1b4: jmp stub+0x15f",
        "stub+0x1b6: mov r11,QWORD PTR [rip+0x5b] # stub+0x218",
        "stub+0x1bd: movzx r11d,BYTE PTR [r11+0x1]",
        "stub+0x1c2: test r11d,r11d",
        "stub+0x1c5: je stub+0x1ce",
        "stub+0x1c7: dec r11d",
        "stub+0x1ca: mov BYTE PTR [r10+0x8],r11b",
        "stub+0x1ce: mov rax,QWORD PTR [rsp-0x18]",
        "stub+0x1d3: mov rcx,QWORD PTR [rsp-0x20]",
        "stub+0x1d8: mov rdx,QWORD PTR [rsp-0x28]",
        "stub+0x1dd: mov rsi,QWORD PTR [rsp-0x30]",
        "stub+0x1e2: mov rdi,QWORD PTR [rsp-0x38]",
        "stub+0x1e7: mov r8,QWORD PTR [rsp-0x40]",
        "stub+0x1ec: mov r9,QWORD PTR [rsp-0x48]",
        "stub+0x1f1: jmp stub+0x68",
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
