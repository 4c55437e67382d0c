namespace Graft.Linux.Tracing;

/// <summary>
/// Where an injected call returns: it keeps the result in rdi and calls rt_sigreturn, which
/// restores the thread from the signal frame below it. Graft puts these bytes in a page of its
/// own inside the target.
/// </summary>
public static class ReturnTrampoline
{
    /// <summary>The bytes, disassembled.</summary>
    public static ReadOnlySpan<byte> Code =>
    [
        0x48, 0x89, 0xc7,             // mov rdi, rax
        0xb8, 0x0f, 0x00, 0x00, 0x00, // mov eax, 15 (rt_sigreturn)
        0x0f, 0x05,                   // syscall
    ];

    /// <summary>Offset of the instruction after the syscall: where a syscall-stop of rt_sigreturn reports its pc.</summary>
    public const int AfterSyscall = 10;
}
