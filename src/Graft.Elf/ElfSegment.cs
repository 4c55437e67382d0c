namespace Graft.Elf;

/// <summary>One program header. <see cref="Type"/> holds a p_type value (see <see cref="ElfSegmentType"/>).</summary>
public sealed record ElfSegment(
    uint Type,
    ElfSegmentFlags Flags,
    ulong Offset,
    ulong VirtualAddress,
    ulong FileSize,
    ulong MemorySize,
    ulong Alignment);

[Flags]
public enum ElfSegmentFlags : uint
{
    None = 0,
    Execute = 1,
    Write = 2,
    Read = 4,
}
