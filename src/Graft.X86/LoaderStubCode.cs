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
/// graftd need not trace the process to hear of an event (<see cref="AttachedOffset"/> 0): the
/// stub then writes a byte on its socket to graftd (after checking the descriptor is still that
/// socket, by its cookie) and waits for graftd's byte back, which graftd sends once it traces the
/// process again; the stub then checks again from <c>check</c>, and traps. A read that ends
/// without a byte (graftd gone: its end of the socket closed) returns as r_brk's `ret` would. So
/// a process graftd must watch for a library load pays nothing at its signals, which a tracer
/// would stop, and only a wanted event costs it graftd's attach.
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
    /// <summary>The byte that is graftd's int3 while it traces the process, a `ret` otherwise.</summary>
    public const int TrapOffset = 0x100;

    /// <summary>
    /// Where a thread has read <see cref="AttachedOffset"/> as set and goes on towards the int3:
    /// from here to <see cref="TrapOffset"/>, inclusive. graftd, before it detaches, clears the
    /// field and lets every thread it finds in this window reach the int3 first.
    /// </summary>
    public const int TrapWindowStart = 0xc0;

    /// <summary>u64: the address of _r_debug.</summary>
    public const int DebugAddressOffset = 0x1c0;

    /// <summary>u32: the watched process's pid; a forked child, whose getpid() differs, never traps.</summary>
    public const int ProcessIdOffset = 0x1c8;

    /// <summary>i32: graftd's pidfd in the process, -1 for none.</summary>
    public const int GraftdPidfdOffset = 0x1cc;

    /// <summary>u32: bit N set traps at every r_state N (RT_CONSISTENT 0, RT_ADD 1, RT_DELETE 2); <see cref="KnownObjectsFilter"/>.</summary>
    public const int WantedEventsOffset = 0x1d0;

    /// <summary>u32: the pid of the graftd that opened the pidfd, so that a later graftd knows the descriptor as its predecessor's.</summary>
    public const int GraftdPidOffset = 0x1d4;

    /// <summary>u32: how many hashes follow at <see cref="KnownHashesOffset"/>.</summary>
    public const int KnownCountOffset = 0x1d8;

    /// <summary>u32: 1 while graftd traces the process (a wanted event traps), 0 while it does not (a wanted event calls graftd back through <see cref="SocketOffset"/>).</summary>
    public const int AttachedOffset = 0x1dc;

    /// <summary>i32: the process's end of a Unix stream socket to graftd, -1 for none.</summary>
    public const int SocketOffset = 0x1e0;

    /// <summary>u32: <see cref="LayoutMark"/>, never read by the stub itself.</summary>
    public const int LayoutMarkOffset = 0x1e4;

    /// <summary>
    /// Says the stub's code and fields are laid out as this Graft writes them ("STB1"); it changes
    /// whenever either moves. A graftd that finds r_brk jumping to a stub with another mark, left
    /// by a graftd of another version, leaves it alone: a thread may be running it.
    /// </summary>
    public const uint LayoutMark = 0x3142_5453;

    /// <summary>u64: that socket's SO_COOKIE, which the stub checks before it writes: the program may have closed the descriptor and reused its number.</summary>
    public const int SocketCookieOffset = 0x1e8;

    /// <summary>u64 each: <see cref="NameHash"/> of every object graftd knows.</summary>
    public const int KnownHashesOffset = 0x1f0;

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

    /// <summary>The stub, disarmed: no event wanted, no pidfd, no socket, no known object, its int3 a `ret`.</summary>
    public static byte[] Code(ulong rDebug, int processId)
    {
        byte[] code =
        [
            0x9c,                                              // 00: pushf
            0x50,                                              // 01: push rax
            0x51,                                              // 02: push rcx
            0x52,                                              // 03: push rdx
            0x56,                                              // 04: push rsi
            0x57,                                              // 05: push rdi
            0x41, 0x50,                                        // 06: push r8
            0x41, 0x51,                                        // 08: push r9
            0x41, 0x52,                                        // 0a: push r10
            0x41, 0x53,                                        // 0c: push r11
            0x48, 0x8b, 0x05, 0xab, 0x01, 0x00, 0x00,          // 0e: mov rax, qword [rip+0x1ab] ; &_r_debug
            0x8b, 0x48, 0x18,                                  // 15: mov ecx, dword [rax+0x18]
            0x83, 0xf9, 0x1f,                                  // 18: cmp ecx, 0x1f
            0x0f, 0x87, 0xe1, 0x00, 0x00, 0x00,                // 1b: ja leave
            0x8b, 0x15, 0xa9, 0x01, 0x00, 0x00,                // 21: mov edx, dword [rip+0x1a9] ; the events wanted
            0x0f, 0xa3, 0xca,                                  // 27: bt edx, ecx
            0x72, 0x7f,                                        // 2a: jb alive
            0x85, 0xc9,                                        // 2c: test ecx, ecx
            0x0f, 0x85, 0xce, 0x00, 0x00, 0x00,                // 2e: jne leave
            0x0f, 0xba, 0xe2, 0x08,                            // 34: bt edx, 0x8
            0x0f, 0x83, 0xc4, 0x00, 0x00, 0x00,                // 38: jae leave
            0x49, 0xb9, 0xb3, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // 3e: movabs r9, 0x100000001b3
            0x48, 0x8b, 0x70, 0x08,                            // 48: namespace: mov rsi, qword [rax+0x8]
            0x48, 0x85, 0xf6,                                  // 4c: object: test rsi, rsi
            0x74, 0x4a,                                        // 4f: je next_namespace
            0x48, 0x8b, 0x7e, 0x08,                            // 51: mov rdi, qword [rsi+0x8]
            0x48, 0xba, 0x25, 0x23, 0x22, 0x84, 0xe4, 0x9c, 0xf2, 0xcb, // 55: movabs rdx, 0xcbf29ce484222325
            0x48, 0x85, 0xff,                                  // 5f: test rdi, rdi
            0x74, 0x13,                                        // 62: je hashed
            0x0f, 0xb6, 0x0f,                                  // 64: hash: movzx ecx, byte [rdi]
            0x85, 0xc9,                                        // 67: test ecx, ecx
            0x74, 0x0c,                                        // 69: je hashed
            0x48, 0x31, 0xca,                                  // 6b: xor rdx, rcx
            0x49, 0x0f, 0xaf, 0xd1,                            // 6e: imul rdx, r9
            0x48, 0xff, 0xc7,                                  // 72: inc rdi
            0xeb, 0xed,                                        // 75: jmp hash
            0x48, 0x8d, 0x3d, 0x72, 0x01, 0x00, 0x00,          // 77: hashed: lea rdi, [rip+0x172] ; their hashes
            0x8b, 0x0d, 0x54, 0x01, 0x00, 0x00,                // 7e: mov ecx, dword [rip+0x154] ; how many names graftd knows
            0x85, 0xc9,                                        // 84: find: test ecx, ecx
            0x74, 0x23,                                        // 86: je alive
            0x48, 0x39, 0x17,                                  // 88: cmp qword [rdi], rdx
            0x74, 0x08,                                        // 8b: je found
            0x48, 0x83, 0xc7, 0x08,                            // 8d: add rdi, 0x8
            0xff, 0xc9,                                        // 91: dec ecx
            0xeb, 0xef,                                        // 93: jmp find
            0x48, 0x8b, 0x76, 0x18,                            // 95: found: mov rsi, qword [rsi+0x18]
            0xeb, 0xb1,                                        // 99: jmp object
            0x83, 0x38, 0x02,                                  // 9b: next_namespace: cmp dword [rax], 0x2
            0x7c, 0x62,                                        // 9e: jl leave
            0x48, 0x8b, 0x40, 0x28,                            // a0: mov rax, qword [rax+0x28]
            0x48, 0x85, 0xc0,                                  // a4: test rax, rax
            0x75, 0x9f,                                        // a7: jne namespace
            0xeb, 0x57,                                        // a9: jmp leave
            0xb8, 0x27, 0x00, 0x00, 0x00,                      // ab: alive: mov eax, 0x27 ; getpid
            0x0f, 0x05,                                        // b0: syscall
            0x3b, 0x05, 0x10, 0x01, 0x00, 0x00,                // b2: cmp eax, dword [rip+0x110] ; the watched pid
            0x75, 0x48,                                        // b8: jne leave
            0x8b, 0x05, 0x1c, 0x01, 0x00, 0x00,                // ba: check: mov eax, dword [rip+0x11c] ; whether graftd traces the process
            0x85, 0xc0,                                        // c0: test eax, eax
            0x74, 0x4d,                                        // c2: je notify
            0x8b, 0x05, 0x02, 0x01, 0x00, 0x00,                // c4: mov eax, dword [rip+0x102] ; graftd's pidfd
            0x85, 0xc0,                                        // ca: test eax, eax
            0x78, 0x34,                                        // cc: js leave
            0x89, 0x44, 0x24, 0xf8,                            // ce: mov dword [rsp-0x8], eax
            0xc7, 0x44, 0x24, 0xfc, 0x01, 0x00, 0x00, 0x00,    // d2: mov dword [rsp-0x4], 0x1
            0x48, 0x8d, 0x7c, 0x24, 0xf8,                      // da: lea rdi, [rsp-0x8]
            0xbe, 0x01, 0x00, 0x00, 0x00,                      // df: mov esi, 0x1
            0x31, 0xd2,                                        // e4: xor edx, edx
            0xb8, 0x07, 0x00, 0x00, 0x00,                      // e6: mov eax, 0x7 ; poll
            0x0f, 0x05,                                        // eb: syscall
            0x48, 0x85, 0xc0,                                  // ed: test rax, rax
            0x75, 0x10,                                        // f0: jne leave
            0x41, 0x5b,                                        // f2: pop r11
            0x41, 0x5a,                                        // f4: pop r10
            0x41, 0x59,                                        // f6: pop r9
            0x41, 0x58,                                        // f8: pop r8
            0x5f,                                              // fa: pop rdi
            0x5e,                                              // fb: pop rsi
            0x5a,                                              // fc: pop rdx
            0x59,                                              // fd: pop rcx
            0x58,                                              // fe: pop rax
            0x9d,                                              // ff: popfq
            0xc3,                                              // 100: trap: ret (int3 while graftd traces the process)
            0xc3,                                              // 101: ret
            0x41, 0x5b,                                        // 102: leave: pop r11
            0x41, 0x5a,                                        // 104: pop r10
            0x41, 0x59,                                        // 106: pop r9
            0x41, 0x58,                                        // 108: pop r8
            0x5f,                                              // 10a: pop rdi
            0x5e,                                              // 10b: pop rsi
            0x5a,                                              // 10c: pop rdx
            0x59,                                              // 10d: pop rcx
            0x58,                                              // 10e: pop rax
            0x9d,                                              // 10f: popfq
            0xc3,                                              // 110: ret
            0x8b, 0x3d, 0xc9, 0x00, 0x00, 0x00,                // 111: notify: mov edi, dword [rip+0xc9] ; the socket to graftd
            0x85, 0xff,                                        // 117: test edi, edi
            0x78, 0xe7,                                        // 119: js leave
            0xc7, 0x44, 0x24, 0xe8, 0x08, 0x00, 0x00, 0x00,    // 11b: mov dword [rsp-0x18], 0x8
            0x4c, 0x8d, 0x54, 0x24, 0xf0,                      // 123: lea r10, [rsp-0x10]
            0x4c, 0x8d, 0x44, 0x24, 0xe8,                      // 128: lea r8, [rsp-0x18]
            0xbe, 0x01, 0x00, 0x00, 0x00,                      // 12d: mov esi, 0x1 ; SOL_SOCKET
            0xba, 0x39, 0x00, 0x00, 0x00,                      // 132: mov edx, 0x39 ; SO_COOKIE
            0xb8, 0x37, 0x00, 0x00, 0x00,                      // 137: mov eax, 0x37 ; getsockopt
            0x0f, 0x05,                                        // 13c: syscall
            0x48, 0x85, 0xc0,                                  // 13e: test rax, rax
            0x75, 0xbf,                                        // 141: jne leave
            0x48, 0x8b, 0x44, 0x24, 0xf0,                      // 143: mov rax, qword [rsp-0x10]
            0x48, 0x3b, 0x05, 0x99, 0x00, 0x00, 0x00,          // 148: cmp rax, qword [rip+0x99] ; its cookie
            0x75, 0xb1,                                        // 14f: jne leave
            0x8b, 0x3d, 0x89, 0x00, 0x00, 0x00,                // 151: send: mov edi, dword [rip+0x89] ; the socket to graftd
            0x48, 0x8d, 0x74, 0x24, 0xf0,                      // 157: lea rsi, [rsp-0x10]
            0xba, 0x01, 0x00, 0x00, 0x00,                      // 15c: mov edx, 0x1
            0x41, 0xba, 0x40, 0x40, 0x00, 0x00,                // 161: mov r10d, 0x4040 ; MSG_NOSIGNAL | MSG_DONTWAIT
            0x45, 0x31, 0xc0,                                  // 167: xor r8d, r8d
            0x45, 0x31, 0xc9,                                  // 16a: xor r9d, r9d
            0xb8, 0x2c, 0x00, 0x00, 0x00,                      // 16d: mov eax, 0x2c ; sendto
            0x0f, 0x05,                                        // 172: syscall
            0x48, 0x83, 0xf8, 0x01,                            // 174: cmp rax, 0x1
            0x74, 0x11,                                        // 178: je wait
            0x48, 0x83, 0xf8, 0xf5,                            // 17a: cmp rax, -0xb ; EAGAIN: graftd has not read what was sent before
            0x74, 0x0b,                                        // 17e: je wait
            0x48, 0x83, 0xf8, 0xfc,                            // 180: cmp rax, -0x4 ; EINTR
            0x74, 0xcb,                                        // 184: je send
            0xe9, 0x77, 0xff, 0xff, 0xff,                      // 186: jmp leave
            0x8b, 0x3d, 0x4f, 0x00, 0x00, 0x00,                // 18b: wait: mov edi, dword [rip+0x4f] ; the socket to graftd
            0x48, 0x8d, 0x74, 0x24, 0xf0,                      // 191: lea rsi, [rsp-0x10]
            0xba, 0x01, 0x00, 0x00, 0x00,                      // 196: mov edx, 0x1
            0x45, 0x31, 0xd2,                                  // 19b: xor r10d, r10d
            0x45, 0x31, 0xc0,                                  // 19e: xor r8d, r8d
            0x45, 0x31, 0xc9,                                  // 1a1: xor r9d, r9d
            0xb8, 0x2d, 0x00, 0x00, 0x00,                      // 1a4: mov eax, 0x2d ; recvfrom
            0x0f, 0x05,                                        // 1a9: syscall
            0x48, 0x83, 0xf8, 0xfc,                            // 1ab: cmp rax, -0x4 ; EINTR
            0x74, 0xda,                                        // 1af: je wait
            0x48, 0x83, 0xf8, 0x01,                            // 1b1: cmp rax, 0x1
            0x0f, 0x85, 0x47, 0xff, 0xff, 0xff,                // 1b5: jne leave
            0xe9, 0xfa, 0xfe, 0xff, 0xff,                      // 1bb: jmp check ; answered: graftd traces the process now
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1c0: &_r_debug
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1c8: the watched pid, graftd's pidfd
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1d0: the events wanted, graftd's pid
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1d8: how many names graftd knows, whether graftd traces the process
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1e0: the socket to graftd, the layout mark
            0, 0, 0, 0, 0, 0, 0, 0,                            // 1e8: the socket's cookie
        ];
        BinaryPrimitives.WriteUInt64LittleEndian(code.AsSpan(DebugAddressOffset), rDebug);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(ProcessIdOffset), processId);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(GraftdPidfdOffset), -1);
        BinaryPrimitives.WriteInt32LittleEndian(code.AsSpan(SocketOffset), -1);
        BinaryPrimitives.WriteUInt32LittleEndian(code.AsSpan(LayoutMarkOffset), LayoutMark);
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
