using System.Buffers.Binary;
using Graft.Linux.Interop;

namespace Graft.Linux.Tracing;

/// <summary>
/// An x86-64 rt_sigframe (arch/x86/include/asm/sigframe.h) that puts a thread back where it was:
/// the kernel restores every register, the signal mask and the FPU/vector state from it when the
/// thread calls rt_sigreturn. Graft's injected calls return through one, so that even a graft
/// that dies in the middle of a call leaves the thread able to carry on by itself.
/// </summary>
internal static class SignalFrame
{
    // struct rt_sigframe { char *pretcode; struct ucontext uc; struct siginfo info; }
    public const int Size = 8 + UcontextSize + 128;

    private const int UcontextSize = 8 + 8 + 24 + SigcontextSize + 8;
    private const int SigcontextSize = 256;
    private const int Ucontext = 8;
    private const int UcStack = Ucontext + 16;
    private const int Mcontext = Ucontext + 40;
    private const int Sigmask = Mcontext + SigcontextSize;

    // uc_flags as the kernel sets them for a 64-bit frame with XSAVE state.
    private const ulong UC_FP_XSTATE = 1;
    private const ulong UC_SIGCONTEXT_SS = 2;
    private const ulong UC_STRICT_RESTORE_SS = 4;

    private const ulong SYS_restart_syscall = 219;

    /// <param name="returnAddress">pretcode: the code that issues rt_sigreturn, reached by the injected function's ret.</param>
    /// <param name="resume">The thread's registers when it was stopped.</param>
    /// <param name="altStack">The thread's sigaltstack (stack_t, 24 bytes): rt_sigreturn sets it again.</param>
    public static byte[] Build(ulong returnAddress, UserRegs resume, ulong signalMask, ReadOnlySpan<byte> altStack, ulong fpstate)
    {
        var frame = new byte[Size];
        var span = frame.AsSpan();
        Put(span, 0, returnAddress);
        Put(span, Ucontext, UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
        altStack.CopyTo(span[UcStack..]);
        WriteSigcontext(span[Mcontext..], Restarted(resume), fpstate);
        Put(span, Sigmask, signalMask);
        return frame;
    }

    /// <summary>
    /// A thread stopped inside an interrupted system call would have it restarted by the kernel
    /// on its way back to user space; rt_sigreturn does not do that, so the frame carries the
    /// registers the restart would have produced (as the kernel does for a signal handler).
    /// </summary>
    private static UserRegs Restarted(UserRegs regs)
    {
        if (regs.orig_rax == ulong.MaxValue)
        {
            return regs;
        }

        switch (-(long)regs.rax)
        {
            case Errno.ERESTARTSYS or Errno.ERESTARTNOINTR or Errno.ERESTARTNOHAND:
                regs.rax = regs.orig_rax;
                regs.rip -= 2;
                break;
            case Errno.ERESTART_RESTARTBLOCK:
                regs.rax = SYS_restart_syscall;
                regs.rip -= 2;
                break;
        }

        return regs;
    }

    // struct sigcontext (64-bit): r8-r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags,
    // cs, gs, fs, ss (16-bit each), err, trapno, oldmask, cr2, fpstate, reserved[8].
    private static void WriteSigcontext(Span<byte> context, UserRegs r, ulong fpstate)
    {
        ulong[] words = [r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp, r.rip, r.eflags];
        for (var i = 0; i < words.Length; i++)
        {
            Put(context, i * 8, words[i]);
        }

        BinaryPrimitives.WriteUInt16LittleEndian(context[144..], (ushort)r.cs);
        BinaryPrimitives.WriteUInt16LittleEndian(context[146..], (ushort)r.gs);
        BinaryPrimitives.WriteUInt16LittleEndian(context[148..], (ushort)r.fs);
        BinaryPrimitives.WriteUInt16LittleEndian(context[150..], (ushort)r.ss);
        Put(context, 184, fpstate);
    }

    private static void Put(Span<byte> bytes, int offset, ulong value) =>
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[offset..], value);
}
