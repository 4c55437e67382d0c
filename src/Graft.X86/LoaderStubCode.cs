using System.Buffers.Binary;

namespace Graft.X86;

/// <summary>
/// What graftd's watch of the dynamic linker runs instead of a bare int3 on r_brk: r_brk (glibc's
/// _dl_debug_state, a `ret` and 15 bytes of padding) jumps here, and the stub traps into graftd
/// only for the loader events graftd asked for, only in the process graftd watches (not in a
/// child that forked from it, which graftd does not trace), and only while graftd lives, which it
/// learns from a pidfd of graftd's that graftd put into the process: poll() says 0 while graftd
/// runs, POLLIN once it has exited, POLLNVAL once the descriptor is closed. A graftd killed
/// outright thus leaves a process that loads libraries on its own, whatever SIGTRAP handler the
/// program has. Every register and the flags are kept: ld.so's callers of a function that is a
/// bare `ret` may rely on all of them (-fipa-ra).
/// <para>
/// The int3 at <see cref="TrapOffset"/> is written as a `ret` and armed by graftd's LoaderWatch (Graft.Linux),
/// which emulates that `ret` after serving the stop: the stack is then as at r_brk, the return
/// address into ld.so on top. The fields after the code are graftd's to write; a thread reads
/// each one once, so graftd writes <see cref="WantedEventsOffset"/> last to arm and first to
/// disarm.
/// </para>
/// </summary>
public static class LoaderStubCode
{
    /// <summary>The byte that is graftd's int3 while it watches, a `ret` otherwise.</summary>
    public const int TrapOffset = 0x62;

    /// <summary>u64: the address of _r_debug.r_state.</summary>
    public const int StateAddressOffset = 0x80;

    /// <summary>u32: the watched process's pid; a forked child, whose getpid() differs, never traps.</summary>
    public const int ProcessIdOffset = 0x88;

    /// <summary>i32: graftd's pidfd in the process, -1 for none.</summary>
    public const int GraftdPidfdOffset = 0x8c;

    /// <summary>u32: bit N set traps at r_state N (RT_CONSISTENT 0, RT_ADD 1, RT_DELETE 2).</summary>
    public const int WantedEventsOffset = 0x90;

    /// <summary>u32: the pid of the graftd that opened the pidfd, so that a later graftd knows the descriptor as its predecessor's.</summary>
    public const int GraftdPidOffset = 0x94;

    public const int Size = 0x98;

    /// <summary>The jump written over r_brk's `ret` and padding: jmp [rip+0], then the stub's address.</summary>
    public const int JumpSize = 14;

    private static ReadOnlySpan<byte> JumpOpcode => [0xff, 0x25, 0x00, 0x00, 0x00, 0x00];

    /// <summary>The stub, disarmed: no event wanted, no pidfd, its int3 a `ret`.</summary>
    public static byte[] Code(ulong rState, int processId)
    {
        byte[] code =
        [
            0x9c,                                     // pushfq
            0x50,                                     // push rax
            0x51,                                     // push rcx
            0x41, 0x53,                               // push r11
            0x48, 0x8b, 0x05, 0x74, 0x00, 0x00, 0x00, // mov rax, [rip+0x74]     ; &_r_debug.r_state
            0x8b, 0x00,                               // mov eax, [rax]          ; r_state
            0x83, 0xf8, 0x1f,                         // cmp eax, 31
            0x77, 0x54,                               // ja leave
            0x8b, 0x0d, 0x77, 0x00, 0x00, 0x00,       // mov ecx, [rip+0x77]     ; the events wanted
            0x0f, 0xa3, 0xc1,                         // bt ecx, eax
            0x73, 0x49,                               // jnc leave
            0x52,                                     // push rdx
            0x56,                                     // push rsi
            0x57,                                     // push rdi
            0xb8, 0x27, 0x00, 0x00, 0x00,             // mov eax, 39 (getpid)
            0x0f, 0x05,                               // syscall
            0x3b, 0x05, 0x5a, 0x00, 0x00, 0x00,       // cmp eax, [rip+0x5a]     ; the watched pid
            0x75, 0x34,                               // jne leave_saved
            0x8b, 0x05, 0x56, 0x00, 0x00, 0x00,       // mov eax, [rip+0x56]     ; graftd's pidfd
            0x85, 0xc0,                               // test eax, eax
            0x78, 0x2a,                               // js leave_saved
            0x50,                                     // push rax                ; struct pollfd { fd, events, revents }
            0xc7, 0x44, 0x24, 0x04, 0x01, 0x00, 0x00, 0x00, // mov dword [rsp+4], 1 ; events = POLLIN, revents = 0
            0x48, 0x89, 0xe7,                         // mov rdi, rsp
            0xbe, 0x01, 0x00, 0x00, 0x00,             // mov esi, 1
            0x31, 0xd2,                               // xor edx, edx            ; timeout 0
            0xb8, 0x07, 0x00, 0x00, 0x00,             // mov eax, 7 (poll)
            0x0f, 0x05,                               // syscall
            0x5f,                                     // pop rdi                 ; the pollfd
            0x48, 0x85, 0xc0,                         // test rax, rax           ; 0: graftd lives
            0x75, 0x0a,                               // jne leave_saved
            0x5f,                                     // pop rdi
            0x5e,                                     // pop rsi
            0x5a,                                     // pop rdx
            0x41, 0x5b,                               // pop r11
            0x59,                                     // pop rcx
            0x58,                                     // pop rax
            0x9d,                                     // popfq
            0xc3,                                     // trap: ret (int3 while graftd watches)
            0xc3,                                     // ret
            0x5f,                                     // leave_saved: pop rdi
            0x5e,                                     // pop rsi
            0x5a,                                     // pop rdx
            0x41, 0x5b,                               // leave: pop r11
            0x59,                                     // pop rcx
            0x58,                                     // pop rax
            0x9d,                                     // popfq
            0xc3,                                     // ret
            0x0f, 0x1f, 0x00,                         // nop (alignment)
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0,                   // 0x80: &_r_debug.r_state
            0, 0, 0, 0, 0, 0, 0, 0,                   // 0x88: the watched pid, graftd's pidfd
            0, 0, 0, 0, 0, 0, 0, 0,                   // 0x90: the events wanted, graftd's pid
        ];
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(StateAddressOffset), rState);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(ProcessIdOffset), processId);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(GraftdPidfdOffset), -1);
        return code;
    }

    /// <summary>The 14 bytes that send r_brk to the stub at <paramref name="stub"/>.</summary>
    public static byte[] Jump(ulong stub)
    {
        var jump = new byte[JumpSize];
        JumpOpcode.CopyTo(jump);
        BinaryPrimitives.WriteUInt64LittleEndian(jump.AsSpan(JumpOpcode.Length), stub);
        return jump;
    }

    /// <summary>Where the jump in <paramref name="bytes"/> (r_brk's first bytes) leads; null if they are no such jump.</summary>
    public static ulong? JumpTarget(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= JumpSize && bytes[..JumpOpcode.Length].SequenceEqual(JumpOpcode)
            ? BinaryPrimitives.ReadUInt64LittleEndian(bytes[JumpOpcode.Length..])
            : null;
}
