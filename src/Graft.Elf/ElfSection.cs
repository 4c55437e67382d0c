namespace Graft.Elf;

/// <summary>One section header. <see cref="Index"/> is its position in the section header table (what
/// symbols' st_shndx and sh_link refer to). <see cref="Type"/> holds an sh_type value (see <see cref="ElfSectionType"/>).</summary>
public sealed record ElfSection(
    int Index,
    string Name,
    uint Type,
    ulong Flags,
    ulong Address,
    ulong Offset,
    ulong Size,
    uint Link,
    uint Info,
    ulong Alignment,
    ulong EntrySize);
