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
/// An RT_CONSISTENT graftd does not want outright (<see cref="KnownObjectsFilter"/>) traps only
/// if an object in the loader's lists (every namespace: r_map, then r_next of an r_debug of
/// version 2 or more) has a name (l_name) whose <see cref="NameHash"/> is not among the known
/// ones graftd wrote: a library it has not seen, which may be one a patch names. Loading and
/// unloading libraries graftd has seen then costs the process no stop at all.
/// </para>
/// <para>
/// The int3 at <see cref="TrapOffset"/> is written as a `ret` and armed by graftd's LoaderWatch
/// (Graft.Linux), which emulates that `ret` after serving the stop: the stack is then as at
/// r_brk, the return address into ld.so on top. The fields after the code are graftd's to write;
/// a thread reads each once, so graftd writes <see cref="WantedEventsOffset"/> last to arm and
/// first to disarm, and the known hashes before their count.
/// </para>
/// </summary>
public static class LoaderStubCode
{
    /// <summary>The byte that is graftd's int3 while it watches, a `ret` otherwise.</summary>
    public const int TrapOffset = 0xea;

    /// <summary>u64: the address of _r_debug.</summary>
    public const int DebugAddressOffset = 0x100;

    /// <summary>u32: the watched process's pid; a forked child, whose getpid() differs, never traps.</summary>
    public const int ProcessIdOffset = 0x108;

    /// <summary>i32: graftd's pidfd in the process, -1 for none.</summary>
    public const int GraftdPidfdOffset = 0x10c;

    /// <summary>u32: bit N set traps at every r_state N (RT_CONSISTENT 0, RT_ADD 1, RT_DELETE 2); <see cref="KnownObjectsFilter"/>.</summary>
    public const int WantedEventsOffset = 0x110;

    /// <summary>u32: the pid of the graftd that opened the pidfd, so that a later graftd knows the descriptor as its predecessor's.</summary>
    public const int GraftdPidOffset = 0x114;

    /// <summary>u32: how many hashes follow at <see cref="KnownHashesOffset"/>.</summary>
    public const int KnownCountOffset = 0x118;

    /// <summary>u64 each: <see cref="NameHash"/> of every object graftd knows.</summary>
    public const int KnownHashesOffset = 0x120;

    /// <summary>The stub without its known hashes.</summary>
    public const int Size = KnownHashesOffset;

    /// <summary>In <see cref="WantedEventsOffset"/>: an RT_CONSISTENT traps if an object's name is not known.</summary>
    public const uint KnownObjectsFilter = 1u << 8;

    /// <summary>The jump written over r_brk's `ret` and padding: jmp [rip+0], then the stub's address.</summary>
    public const int JumpSize = 14;

    private const ulong FnvOffsetBasis = 0xcbf29ce484222325;
    private const ulong FnvPrime = 0x100000001b3;

    private static ReadOnlySpan<byte> JumpOpcode => [0xff, 0x25, 0x00, 0x00, 0x00, 0x00];

    /// <summary>How many known hashes fit after the stub in <paramref name="room"/> bytes.</summary>
    public static int KnownCapacity(int room) => (room - KnownHashesOffset) / sizeof(ulong);

    /// <summary>The stub, disarmed: no event wanted, no pidfd, no known object, its int3 a `ret`.</summary>
    public static byte[] Code(ulong rDebug, int processId)
    {
        byte[] code =
        [
            0x9c,                                              // 00: pushfq
            0x50,                                              // 01: push rax
            0x51,                                              // 02: push rcx
            0x52,                                              // 03: push rdx
            0x56,                                              // 04: push rsi
            0x57,                                              // 05: push rdi
            0x41, 0x51,                                        // 06: push r9
            0x41, 0x53,                                        // 08: push r11
            0x48, 0x8b, 0x05, 0xef, 0x00, 0x00, 0x00,          // 0a: mov rax, [rip+0xef] ; &_r_debug
            0x8b, 0x48, 0x18,                                  // 11: mov ecx, dword [rax+0x18]
            0x83, 0xf9, 0x1f,                                  // 14: cmp ecx, 0x1f
            0x0f, 0x87, 0xcf, 0x00, 0x00, 0x00,                // 17: ja leave
            0x8b, 0x15, 0xed, 0x00, 0x00, 0x00,                // 1d: mov edx, dword [rip+0xed] ; the events wanted
            0x0f, 0xa3, 0xca,                                  // 23: bt edx, ecx
            0x72, 0x7f,                                        // 26: jb alive
            0x85, 0xc9,                                        // 28: test ecx, ecx
            0x0f, 0x85, 0xbc, 0x00, 0x00, 0x00,                // 2a: jne leave
            0x0f, 0xba, 0xe2, 0x08,                            // 30: bt edx, 0x8
            0x0f, 0x83, 0xb2, 0x00, 0x00, 0x00,                // 34: jae leave
            0x49, 0xb9, 0xb3, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // 3a: movabs r9, 0x100000001b3
            0x48, 0x8b, 0x70, 0x08,                            // 44: namespace: mov rsi, [rax+0x8]
            0x48, 0x85, 0xf6,                                  // 48: object: test rsi, rsi
            0x74, 0x4a,                                        // 4b: je next_namespace
            0x48, 0x8b, 0x7e, 0x08,                            // 4d: mov rdi, [rsi+0x8]
            0x48, 0xba, 0x25, 0x23, 0x22, 0x84, 0xe4, 0x9c, 0xf2, 0xcb, // 51: movabs rdx, 0xcbf29ce484222325
            0x48, 0x85, 0xff,                                  // 5b: test rdi, rdi
            0x74, 0x13,                                        // 5e: je hashed
            0x0f, 0xb6, 0x0f,                                  // 60: hash: movzx ecx, byte [rdi]
            0x85, 0xc9,                                        // 63: test ecx, ecx
            0x74, 0x0c,                                        // 65: je hashed
            0x48, 0x31, 0xca,                                  // 67: xor rdx, rcx
            0x49, 0x0f, 0xaf, 0xd1,                            // 6a: imul rdx, r9
            0x48, 0xff, 0xc7,                                  // 6e: inc rdi
            0xeb, 0xed,                                        // 71: jmp hash
            0x48, 0x8d, 0x3d, 0xa6, 0x00, 0x00, 0x00,          // 73: hashed: lea rdi, [rip+0xa6] ; their hashes
            0x8b, 0x0d, 0x98, 0x00, 0x00, 0x00,                // 7a: mov ecx, dword [rip+0x98] ; how many names graftd knows
            0x85, 0xc9,                                        // 80: find: test ecx, ecx
            0x74, 0x23,                                        // 82: je alive
            0x48, 0x39, 0x17,                                  // 84: cmp [rdi], rdx
            0x74, 0x08,                                        // 87: je found
            0x48, 0x83, 0xc7, 0x08,                            // 89: add rdi, 0x8
            0xff, 0xc9,                                        // 8d: dec ecx
            0xeb, 0xef,                                        // 8f: jmp find
            0x48, 0x8b, 0x76, 0x18,                            // 91: found: mov rsi, [rsi+0x18]
            0xeb, 0xb1,                                        // 95: jmp object
            0x83, 0x38, 0x02,                                  // 97: next_namespace: cmp dword [rax], 0x2
            0x7c, 0x50,                                        // 9a: jl leave
            0x48, 0x8b, 0x40, 0x28,                            // 9c: mov rax, [rax+0x28]
            0x48, 0x85, 0xc0,                                  // a0: test rax, rax
            0x75, 0x9f,                                        // a3: jne namespace
            0xeb, 0x45,                                        // a5: jmp leave
            0xb8, 0x27, 0x00, 0x00, 0x00,                      // a7: alive: mov eax, 0x27
            0x0f, 0x05,                                        // ac: syscall
            0x3b, 0x05, 0x54, 0x00, 0x00, 0x00,                // ae: cmp eax, dword [rip+0x54] ; the watched pid
            0x75, 0x36,                                        // b4: jne leave
            0x8b, 0x05, 0x50, 0x00, 0x00, 0x00,                // b6: mov eax, dword [rip+0x50] ; graftd's pidfd
            0x85, 0xc0,                                        // bc: test eax, eax
            0x78, 0x2c,                                        // be: js leave
            0x50,                                              // c0: push rax
            0xc7, 0x44, 0x24, 0x04, 0x01, 0x00, 0x00, 0x00,    // c1: mov dword [rsp+0x4], 0x1
            0x48, 0x89, 0xe7,                                  // c9: mov rdi, rsp
            0xbe, 0x01, 0x00, 0x00, 0x00,                      // cc: mov esi, 0x1
            0x31, 0xd2,                                        // d1: xor edx, edx
            0xb8, 0x07, 0x00, 0x00, 0x00,                      // d3: mov eax, 0x7
            0x0f, 0x05,                                        // d8: syscall
            0x5f,                                              // da: pop rdi
            0x48, 0x85, 0xc0,                                  // db: test rax, rax
            0x75, 0x0c,                                        // de: jne leave
            0x41, 0x5b,                                        // e0: pop r11
            0x41, 0x59,                                        // e2: pop r9
            0x5f,                                              // e4: pop rdi
            0x5e,                                              // e5: pop rsi
            0x5a,                                              // e6: pop rdx
            0x59,                                              // e7: pop rcx
            0x58,                                              // e8: pop rax
            0x9d,                                              // e9: popfq
            0xc3,                                              // ea: trap: ret (int3 while graftd watches)
            0xc3,                                              // eb: ret
            0x41, 0x5b,                                        // ec: leave: pop r11
            0x41, 0x59,                                        // ee: pop r9
            0x5f,                                              // f0: pop rdi
            0x5e,                                              // f1: pop rsi
            0x5a,                                              // f2: pop rdx
            0x59,                                              // f3: pop rcx
            0x58,                                              // f4: pop rax
            0x9d,                                              // f5: popfq
            0xc3,                                              // f6: ret
            0x66, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, // f7: nop (alignment)
            0, 0, 0, 0, 0, 0, 0, 0,                            // 100: &_r_debug
            0, 0, 0, 0, 0, 0, 0, 0,                            // 108: the watched pid, graftd's pidfd
            0, 0, 0, 0, 0, 0, 0, 0,                            // 110: the events wanted, graftd's pid
            0, 0, 0, 0, 0, 0, 0, 0,                            // 118: how many names graftd knows
        ];
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(DebugAddressOffset), rDebug);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(ProcessIdOffset), processId);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(GraftdPidfdOffset), -1);
        return code;
    }

    /// <summary>64-bit FNV-1a of an object's name as the loader keeps it (l_name, without its NUL), as the stub computes it.</summary>
    public static ulong NameHash(ReadOnlySpan<byte> name)
    {
        var hash = FnvOffsetBasis;
        foreach (var b in name)
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
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
