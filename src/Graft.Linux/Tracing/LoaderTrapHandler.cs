using System.Buffers.Binary;

namespace Graft.Linux.Tracing;

/// <summary>
/// A SIGTRAP handler for the target that keeps it alive when an int3 of graftd's on the loader's
/// path outlives graftd (killed, it cannot take the int3 away): the one on r_brk itself, or the
/// one in the loader stub (Graft.X86's LoaderStubCode), which a thread may reach just before graftd dies. While
/// graftd watches, the trap stops the thread and graftd handles it: the signal never reaches the
/// handler. Without graftd, the handler does what graftd does, the `ret` the int3 replaced (at
/// both places the return address is on top of the stack), so a library loads as if no one had
/// watched. A SIGTRAP from anywhere else gets the default action, as before: the handler puts
/// SIG_DFL back and raises it again for its thread.
/// </summary>
public static class LoaderTrapHandler
{
    /// <summary>Where, from the handler's start, its sa_restorer lies: rt_sigreturn once the handler returns.</summary>
    public const int RestorerOffset = 160;

    /// <summary>Where, from the handler's start, the int3's address + 1 (the pc the trap reports) is embedded, for each of the two.</summary>
    private const int BrkTrapPcOffset = 9;
    private const int StubTrapPcOffset = 24;

    /// <summary>
    /// The handler (rdi = signal, rsi = siginfo, rdx = ucontext) for an int3 at <paramref name="rBrk"/>
    /// or at <paramref name="stubTrap"/>.
    /// ucontext_t on x86-64: uc_mcontext.gregs[] starts at 40, REG_RSP (15) at 160, REG_RIP (16) at 168.
    /// </summary>
    public static byte[] Code(ulong rBrk, ulong stubTrap)
    {
        byte[] code =
        [
            0x48, 0x8b, 0x82, 0xa8, 0x00, 0x00, 0x00,       // mov rax, [rdx+168]      ; the interrupted rip
            0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0,             // movabs rcx, rBrk + 1    ; just past an int3 on r_brk
            0x48, 0x39, 0xc8,                               // cmp rax, rcx
            0x74, 0x0f,                                     // je return
            0x48, 0xb9, 0, 0, 0, 0, 0, 0, 0, 0,             // movabs rcx, stubTrap + 1 ; just past the stub's int3
            0x48, 0x39, 0xc8,                               // cmp rax, rcx
            0x75, 0x1d,                                     // jne other
            0x48, 0x8b, 0x8a, 0xa0, 0x00, 0x00, 0x00,       // return: mov rcx, [rdx+160] ; rsp
            0x48, 0x8b, 0x01,                               // mov rax, [rcx]          ; the return address
            0x48, 0x89, 0x82, 0xa8, 0x00, 0x00, 0x00,       // mov [rdx+168], rax      ; rip = it
            0x48, 0x83, 0xc1, 0x08,                         // add rcx, 8
            0x48, 0x89, 0x8a, 0xa0, 0x00, 0x00, 0x00,       // mov [rdx+160], rcx      ; rsp += 8: the ret done
            0xc3,                                           // ret                     ; to sa_restorer, rt_sigreturn
            0xb8, 0x0d, 0x00, 0x00, 0x00,                   // other: mov eax, 13 (rt_sigaction)
            0xbf, 0x05, 0x00, 0x00, 0x00,                   // mov edi, 5 (SIGTRAP)
            0x48, 0x8d, 0x35, 0x2d, 0x00, 0x00, 0x00,       // lea rsi, [rip+0x2d]     ; the zeroed sigaction below: SIG_DFL
            0x31, 0xd2,                                     // xor edx, edx
            0x41, 0xba, 0x08, 0x00, 0x00, 0x00,             // mov r10d, 8
            0x0f, 0x05,                                     // syscall
            0xb8, 0x27, 0x00, 0x00, 0x00,                   // mov eax, 39 (getpid)
            0x0f, 0x05,                                     // syscall
            0x49, 0x89, 0xc0,                               // mov r8, rax
            0xb8, 0xba, 0x00, 0x00, 0x00,                   // mov eax, 186 (gettid)
            0x0f, 0x05,                                     // syscall
            0x89, 0xc6,                                     // mov esi, eax
            0x4c, 0x89, 0xc7,                               // mov rdi, r8
            0xba, 0x05, 0x00, 0x00, 0x00,                   // mov edx, 5 (SIGTRAP)
            0xb8, 0xea, 0x00, 0x00, 0x00,                   // mov eax, 234 (tgkill)
            0x0f, 0x05,                                     // syscall
            0xc3,                                           // ret                     ; the raised SIGTRAP ends the thread's process
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // struct sigaction: SIG_DFL, no flags
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0xb8, 0x0f, 0x00, 0x00, 0x00,                   // restorer: mov eax, 15 (rt_sigreturn)
            0x0f, 0x05,                                     // syscall
        ];
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(BrkTrapPcOffset), rBrk + 1);
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(StubTrapPcOffset), stubTrap + 1);
        return code;
    }
}
