namespace Graft.Elf.Dwarf.Info;

/// <summary>
/// What graft keeps of one DIE of .debug_info: its tag, its name, the DIE it takes its name from
/// (DW_AT_abstract_origin or DW_AT_specification), and the subprogram it is nested in.
/// Offsets are .debug_info section offsets; 0 means none.
/// </summary>
internal readonly record struct DebugInfoEntry(ulong Offset, ulong Tag, string? Name, ulong Origin, ulong EnclosingSubprogram);
