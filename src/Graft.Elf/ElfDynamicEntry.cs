namespace Graft.Elf;

/// <summary>One entry of the dynamic section. <see cref="Tag"/> holds a d_tag value (see <see cref="ElfDynamicTag"/>).</summary>
public sealed record ElfDynamicEntry(long Tag, ulong Value);
