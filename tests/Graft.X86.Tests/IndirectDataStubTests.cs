using Graft.X86.References;
using Iced.Intel;

namespace Graft.X86.Tests;

/// <summary>The instructions that hold relocated fields, and the stub that runs a RIP-relative data access through a GOT slot.</summary>
public sealed class IndirectDataStubTests
{
    private static readonly byte[] Function =
    [
        0x48, 0x83, 0x05, 0, 0, 0, 0, 0x01, // +0: add qword [rip+x], 1
        0x8b, 0x05, 0, 0, 0, 0,             // +8: mov eax, [rip+y]
        0xe8, 0, 0, 0, 0,                   // +e: call z
        0xff, 0x35, 0, 0, 0, 0,             // +13: push qword [rip+w]
        0xc3,                               // +19: ret
    ];

    [Fact]
    public void TheFieldOfARipRelativeOperandIsFoundWithTheDistanceToTheInstructionsEnd()
    {
        var site = new CompiledCode(Function).Site(3);

        Assert.Equal(new ReferenceSite(0, 8, IsDirectBranch: false, IsRipRelativeDisplacement: true, FieldToEnd: 5), site);
        Assert.Equal(new ReferenceSite(14, 5, IsDirectBranch: true, IsRipRelativeDisplacement: false, FieldToEnd: 4), new CompiledCode(Function).Site(15));
    }

    [Fact]
    public void TheStubMovesPastTheRedZoneLoadsTheAddressIntoAFreeRegisterAndJumpsBack()
    {
        var code = new CompiledCode(Function);

        var stub = IndirectDataStub.Build(code, code.Site(3)!, 8);

        Assert.Equal(
            ["lea rsp,[rsp-80h]", "push rax", "mov rax,[rip]", "add qword ptr [rax+8],1", "pop rax", "lea rsp,[rsp+80h]", "jmp"],
            Disassemble(stub.Code));
        Assert.Equal(9, stub.GotField); // after lea (5 bytes), push (1) and the mov's REX, opcode and ModRM (3)
        Assert.Equal(stub.Code.Length - 4, stub.ReturnField);
    }

    [Fact]
    public void TheScratchRegisterIsOneTheInstructionDoesNotUse()
    {
        var code = new CompiledCode(Function);

        var stub = IndirectDataStub.Build(code, code.Site(10)!, 0);

        Assert.Contains("mov eax,[rcx]", Disassemble(stub.Code));
    }

    [Fact]
    public void AnInstructionThatUsesTheStackIsRefused()
    {
        var code = new CompiledCode(Function);

        var error = Assert.Throws<InvalidOperationException>(() => IndirectDataStub.Build(code, code.Site(21)!, 0));

        Assert.Contains("uses the stack", error.Message, StringComparison.Ordinal);
    }

    // Each instruction as Intel syntax with its RIP-relative displacement and branch target left out (they are relocated fields).
    private static List<string> Disassemble(byte[] bytes)
    {
        var decoder = Decoder.Create(64, new ByteArrayCodeReader(bytes));
        var formatter = new IntelFormatter();
        var lines = new List<string>();
        while (decoder.IP < (ulong)bytes.Length)
        {
            decoder.Decode(out var instruction);
            var output = new StringOutput();
            formatter.Format(instruction, output);
            var text = output.ToStringAndReset();
            lines.Add(instruction.IsIPRelativeMemoryOperand ? text[..text.IndexOf('[')] + "[rip]"
                : instruction.FlowControl == FlowControl.UnconditionalBranch ? "jmp" : text);
        }

        return lines;
    }
}
