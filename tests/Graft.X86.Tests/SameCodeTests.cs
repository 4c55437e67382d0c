using Graft.X86.References;

namespace Graft.X86.Tests;

// A function as a build with -ffunction-sections leaves it (at 0, its tail call a jmp rel32 with a relocation) against
// the same function in a binary built without (at 0x1000, the assembler made the tail call to a neighbour a jmp rel8).
public sealed class SameCodeTests
{
    private const ulong Running = 0x1000;
    private const ulong Neighbour = 0x1020;

    private static readonly byte[] Built =
    [
        0x48, 0x89, 0xF8,             // +0: mov rax,rdi
        0x85, 0xFF,                   // +3: test edi,edi
        0x74, 0x05,                   // +5: je +0xc
        0xE9, 0x00, 0x00, 0x00, 0x00, // +7: jmp neighbour (R_X86_64_PLT32 at +8)
        0xC3,                         // +c: ret
    ];

    private static readonly RelocatedField[] TailCall = [new(8, 4, Neighbour, IsGotLoad: false, "neighbour+0")];

    [Fact]
    public void AShortJumpIsTheNearJumpToTheSameTarget()
    {
        byte[] running =
        [
            0x48, 0x89, 0xF8, // 0x1000: mov rax,rdi
            0x85, 0xFF,       // 0x1003: test edi,edi
            0x74, 0x02,       // 0x1005: je 0x1009 (the ret, which lies 3 bytes nearer)
            0xEB, 0x17,       // 0x1007: jmp 0x1020 (neighbour)
            0xC3,             // 0x1009: ret
        ];

        Assert.Null(SameCode.FirstDifference(Built, TailCall, running, Running, NameOf));
    }

    [Fact]
    public void AJumpToAnotherTargetDiffers()
    {
        byte[] running =
        [
            0x48, 0x89, 0xF8, // 0x1000: mov rax,rdi
            0x85, 0xFF,       // 0x1003: test edi,edi
            0x74, 0x02,       // 0x1005: je 0x1009
            0xEB, 0x18,       // 0x1007: jmp 0x1021 (one byte into neighbour)
            0xC3,             // 0x1009: ret
        ];

        Assert.Equal(
            "the instruction at +0x7 is 'jmp 0xc (neighbour+0)' in the build and 'jmp 0x1021 (neighbour+1)' at +0x7 in the binary",
            SameCode.FirstDifference(Built, TailCall, running, Running, NameOf));
    }

    [Fact]
    public void AJumpInsideTheFunctionMustLandOnTheSameInstruction()
    {
        byte[] running =
        [
            0x48, 0x89, 0xF8, // 0x1000: mov rax,rdi
            0x85, 0xFF,       // 0x1003: test edi,edi
            0x74, 0x00,       // 0x1005: je 0x1007 (the jmp, not the ret)
            0xEB, 0x17,       // 0x1007: jmp 0x1020
            0xC3,             // 0x1009: ret
        ];

        Assert.Equal(
            "the instruction at +0x5 is 'je 0xc' in the build and 'je 0x1007' at +0x5 in the binary",
            SameCode.FirstDifference(Built, TailCall, running, Running, NameOf));
    }

    [Fact]
    public void AnotherRegisterDiffers()
    {
        byte[] running =
        [
            0x48, 0x89, 0xF0, // 0x1000: mov rax,rsi
            0x85, 0xFF,       // 0x1003: test edi,edi
            0x74, 0x02,       // 0x1005: je 0x1009
            0xEB, 0x17,       // 0x1007: jmp 0x1020
            0xC3,             // 0x1009: ret
        ];

        Assert.Equal(
            "the instruction at +0x0 is 'mov rax,rdi' in the build and 'mov rax,rsi' at +0x0 in the binary",
            SameCode.FirstDifference(Built, TailCall, running, Running, NameOf));
    }

    [Fact]
    public void AlignmentNopsAreLeftOut()
    {
        byte[] running =
        [
            0x48, 0x89, 0xF8, // 0x1000: mov rax,rdi
            0x85, 0xFF,       // 0x1003: test edi,edi
            0x74, 0x05,       // 0x1005: je 0x100c (the ret, past the padding)
            0xEB, 0x17,       // 0x1007: jmp 0x1020
            0x0F, 0x1F, 0x00, // 0x1009: nop dword ptr [rax]
            0xC3,             // 0x100c: ret
        ];

        Assert.Null(SameCode.FirstDifference(Built, TailCall, running, Running, NameOf));
    }

    [Fact]
    public void AMissingInstructionIsNamed()
    {
        Assert.Equal(
            "the build has 5 instructions (nops aside) and the binary 4; the first 4 are the same",
            SameCode.FirstDifference(Built, TailCall, [0x48, 0x89, 0xF8, 0x85, 0xFF, 0x74, 0x02, 0xEB, 0x17], Running, NameOf));
    }

    private static string? NameOf(ulong address) => address >= Neighbour && address < Neighbour + 0x10 ? $"neighbour+{address - Neighbour}" : null;
}
