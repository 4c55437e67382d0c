using System.Buffers.Binary;
using System.Diagnostics;

using Graft.X86.Tests.Native;

using Iced.Intel;

using static Iced.Intel.AssemblerRegisters;

namespace Graft.X86.Tests;

/// <summary>
/// Runs graftd's loader stub natively, called the way ld.so calls r_brk, by a caller that loads
/// every general register and the flags with its own values and checks them all afterwards: a
/// caller of a bare `ret` built with -fipa-ra may rely on every one of them. The stub's trap byte
/// is a `cmc` here instead of graftd's int3, so the carry flag, flipped, tells that the stub
/// went the way that traps, and nothing else may differ.
/// </summary>
public sealed unsafe class LoaderStubExecutionTests
{
    private const int Consistent = 0;
    private const int Adding = 1;
    private const int StateOffset = 0x200;
    private const int CallerOffset = 0x400;
    private const byte Cmc = 0xf5;

    // CF, PF, AF, ZF, SF, OF set; DF clear, as the ABI wants it at a call.
    private const int Flags = 0x8d5;

    private const int Kept = 1;
    private const int Trapped = 2;

    private static readonly (AssemblerRegister64 Register, ulong Value)[] Expected =
    [
        (rbx, 0x8000_0001_0101_0101), (rbp, 0x8000_0002_0202_0202), (r12, 0x8000_0003_0303_0303),
        (r13, 0x8000_0004_0404_0404), (r14, 0x8000_0005_0505_0505), (r15, 0x8000_0006_0606_0606),
        (rdi, 0x8000_0007_0707_0707), (rsi, 0x8000_0008_0808_0808), (rdx, 0x8000_0009_0909_0909),
        (rcx, 0x8000_000a_0a0a_0a0a), (r8, 0x8000_000b_0b0b_0b0b), (r9, 0x8000_000c_0c0c_0c0c),
        (rax, 0x8000_000d_0d0d_0d0d), (r10, 0x8000_000e_0e0e_0e0e), (r11, 0x8000_000f_0f0f_0f0f),
    ];

    [Fact]
    public void AWantedEventInTheWatchedProcessWithGraftdAliveTraps()
    {
        var graftd = Pidfd.Open(Environment.ProcessId);
        try
        {
            Assert.Equal(Trapped, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
        }
        finally
        {
            Pidfd.Close(graftd);
        }
    }

    [Fact]
    public void AnEventNotWantedReturnsWithoutASystemCall()
    {
        var graftd = Pidfd.Open(Environment.ProcessId);
        try
        {
            Assert.Equal(Kept, Run(Adding, 1 << Consistent, Environment.ProcessId, graftd));
            Assert.Equal(Kept, Run(40, -1, Environment.ProcessId, graftd));
        }
        finally
        {
            Pidfd.Close(graftd);
        }
    }

    /// <summary>A forked child inherits the stub and the descriptor, but getpid() tells it apart.</summary>
    [Fact]
    public void AnotherProcessThanTheWatchedOneReturns()
    {
        var graftd = Pidfd.Open(Environment.ProcessId);
        try
        {
            Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId + 1, graftd));
        }
        finally
        {
            Pidfd.Close(graftd);
        }
    }

    [Fact]
    public void NoPidfdReturns()
    {
        Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, -1));
    }

    /// <summary>poll() says POLLIN once graftd has exited: the stub returns as r_brk's `ret` would.</summary>
    [Fact]
    public void AGraftdThatHasExitedIsNotTrappedInto()
    {
        using var process = Process.Start("sleep", "30");
        var graftd = Pidfd.Open(process.Id);
        try
        {
            Assert.Equal(Trapped, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
            process.Kill();
            process.WaitForExit();
            Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
        }
        finally
        {
            Pidfd.Close(graftd);
        }
    }

    /// <summary>poll() says POLLNVAL for a descriptor the program closed.</summary>
    [Fact]
    public void AClosedPidfdIsNotTrappedInto()
    {
        var graftd = Pidfd.Open(Environment.ProcessId);
        Pidfd.Close(graftd);
        Assert.Equal(Kept, Run(Consistent, 1 << Consistent, Environment.ProcessId, graftd));
    }

    /// <summary>Kept (1) if the stub returned everything as it found it, Trapped (2) if only the carry flag differs, 0 otherwise.</summary>
    private static int Run(int state, int wanted, int processId, int pidfd)
    {
        using var memory = new MappedMemory(4096);
        var stub = LoaderStubCode.Code(memory.Address + StateOffset, processId);
        stub[LoaderStubCode.TrapOffset] = Cmc;
        BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.GraftdPidfdOffset), pidfd);
        BinaryPrimitives.WriteInt32LittleEndian(stub.AsSpan(LoaderStubCode.WantedEventsOffset), wanted);
        stub.CopyTo(memory.Bytes);
        BinaryPrimitives.WriteInt32LittleEndian(memory.Bytes[StateOffset..], state);
        Assembled.At(memory.Address + CallerOffset, assembler => CallAndCheck(assembler, memory.Address)).CopyTo(memory.Bytes[CallerOffset..]);
        memory.MakeExecutable();
        return ((delegate* unmanaged<int>)(memory.Address + CallerOffset))();
    }

    private static void CallAndCheck(Assembler assembler, ulong stub)
    {
        AssemblerRegister64[] calleeSaved = [rbx, rbp, r12, r13, r14, r15];
        foreach (var register in calleeSaved)
        {
            assembler.push(register);
        }

        // Six pushes and the return address: rsp is 16-byte aligned at the call, as at any.
        foreach ((var register, var value) in Expected)
        {
            assembler.mov(register, value);
        }

        assembler.push(Flags);
        assembler.popfq();
        assembler.call(stub);
        assembler.pushfq();

        // Compared through the stack, so that no register is overwritten before it is checked.
        var mismatch = assembler.CreateLabel();
        var done = assembler.CreateLabel();
        foreach ((var register, var value) in Expected)
        {
            assembler.push(register);
            assembler.mov(register, value);
            assembler.cmp(__qword_ptr[rsp], register);
            assembler.pop(register);
            assembler.jne(mismatch);
        }

        // The flags as the stub left them, but for the ones popfq cannot set in user mode (IF, and the reserved bit 1).
        assembler.pop(rax);
        assembler.and(rax, 0xfff & ~0x202);
        assembler.mov(ecx, Kept);
        assembler.cmp(rax, Flags);
        assembler.je(done);
        assembler.mov(ecx, Trapped);
        assembler.cmp(rax, Flags ^ 1);
        assembler.je(done);
        assembler.xor(ecx, ecx);
        assembler.jmp(done);

        // A register differs: the flags pushed after the call are still on the stack.
        assembler.Label(ref mismatch);
        assembler.pop(rax);
        assembler.xor(ecx, ecx);
        assembler.Label(ref done);
        assembler.mov(eax, ecx);
        foreach (var register in Enumerable.Reverse(calleeSaved))
        {
            assembler.pop(register);
        }

        assembler.ret();
    }
}
