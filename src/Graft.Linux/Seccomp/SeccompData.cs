namespace Graft.Linux.Seccomp;

/// <summary>
/// What a seccomp filter reads about a system call (struct seccomp_data: int nr; u32 arch;
/// u64 instruction_pointer; u64 args[6]), as 32-bit little-endian words at byte offsets.
/// </summary>
public sealed record SeccompData(int Nr, IReadOnlyList<ulong> Args)
{
    /// <summary>&lt;linux/audit.h&gt;: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.</summary>
    public const uint AUDIT_ARCH_X86_64 = 0xc000003e;

    /// <summary>sizeof(struct seccomp_data), which BPF_LEN loads.</summary>
    public const uint Size = 64;

    public uint Arch { get; init; } = AUDIT_ARCH_X86_64;

    /// <summary>Where the syscall instruction is; null when unknown (a call the loader makes from somewhere in ld.so or libc).</summary>
    public ulong? InstructionPointer { get; init; }

    /// <summary>The 32-bit word at <paramref name="offset"/>, as BPF_LD|BPF_W|BPF_ABS loads it.</summary>
    public uint Word(uint offset)
    {
        if (offset >= Size || (offset & 3) != 0)
        {
            throw new SeccompEvaluationException($"it loads from offset {offset}, outside struct seccomp_data");
        }

        return offset switch
        {
            0 => (uint)Nr,
            4 => Arch,
            < 16 => InstructionPointer is { } ip
                ? Half(ip, offset - 8)
                : throw new SeccompEvaluationException("it reads the instruction pointer, which graft cannot know for the calls the loader makes"),
            _ => Half(Args.ElementAtOrDefault((int)(offset - 16) / 8), (offset - 16) % 8),
        };
    }

    private static uint Half(ulong value, uint offset) => offset == 0 ? (uint)value : (uint)(value >> 32);
}
