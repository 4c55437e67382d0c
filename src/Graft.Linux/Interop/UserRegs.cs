using System.Runtime.InteropServices;

namespace Graft.Linux.Interop;

/// <summary>struct user_regs_struct of &lt;sys/user.h&gt; on x86-64 (27 × 8 bytes), field order as in C.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct UserRegs
{
    public ulong r15;
    public ulong r14;
    public ulong r13;
    public ulong r12;
    public ulong rbp;
    public ulong rbx;
    public ulong r11;
    public ulong r10;
    public ulong r9;
    public ulong r8;
    public ulong rax;
    public ulong rcx;
    public ulong rdx;
    public ulong rsi;
    public ulong rdi;
    public ulong orig_rax;
    public ulong rip;
    public ulong cs;
    public ulong eflags;
    public ulong rsp;
    public ulong ss;
    public ulong fs_base;
    public ulong gs_base;
    public ulong ds;
    public ulong es;
    public ulong fs;
    public ulong gs;
}
