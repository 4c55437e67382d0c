using Graft.Elf;

namespace Graft.Linux.Inspection;

/// <summary>
/// One ELF object mapped into the target: the main executable, a shared library, or the vDSO.
/// Addresses in the ELF file plus <see cref="LoadBias"/> are addresses in the process.
/// </summary>
public sealed class LoadedModule
{
    private readonly Lazy<ElfFile> elf;
    private readonly Lazy<FunctionIndex> functions;
    private readonly Lazy<FunctionIndex> exportedFunctions;

    internal LoadedModule(string path, bool isMainExecutable, IReadOnlyList<MemoryMapping> mappings, Func<ElfFile> loadElf)
    {
        Path = path;
        IsMainExecutable = isMainExecutable;
        Mappings = mappings;
        elf = new Lazy<ElfFile>(loadElf);
        functions = new Lazy<FunctionIndex>(() => new FunctionIndex(Elf.Symbols.Count > 0 ? Elf.Symbols : Elf.DynamicSymbols));
        exportedFunctions = new Lazy<FunctionIndex>(() => new FunctionIndex(Elf.DynamicSymbols));
    }

    /// <summary>The path the process mapped (as /proc/&lt;pid&gt;/maps shows it), or "[vdso]".</summary>
    public string Path { get; }

    public string FileName => System.IO.Path.GetFileName(Path);

    public bool IsMainExecutable { get; }

    public bool IsVdso => Path == "[vdso]";

    public IReadOnlyList<MemoryMapping> Mappings { get; }

    public ulong Start => Mappings[0].Start;

    public ulong End => Mappings[^1].End;

    public ElfFile Elf => elf.Value;

    public ulong LoadBias => Start - Elf.LowestLoadAddress;

    public string? Soname => Elf.Soname;

    public string? BuildId => Elf.BuildId;

    /// <summary>Whether this is the object a patch names: NULL means the main executable, else a file name or soname.</summary>
    public bool Matches(string? objectName) => objectName is null
        ? IsMainExecutable
        : objectName == FileName || objectName == Path || (!IsVdso && objectName == Soname);

    public bool Contains(ulong address) => Mappings.Any(m => m.Contains(address));

    /// <summary>The function symbol covering an address of the process, if the object has one.</summary>
    public ElfSymbol? FunctionAt(ulong address) => functions.Value.Find(address - LoadBias);

    /// <summary>
    /// Builds the index <see cref="ExportedFunctionAt"/> reads now, rather than on first use
    /// while a thread is stopped. It comes from the object's own .dynsym, already read.
    /// </summary>
    public void PrepareExportedFunctions() => _ = exportedFunctions.Value;

    /// <summary>
    /// The exported function (.dynsym) covering an address of the process, if any: null for an
    /// address in a function the object does not export. Unlike <see cref="FunctionAt"/> it never
    /// reads a stripped object's separate debug file (4 MiB for glibc's libc).
    /// </summary>
    public ElfSymbol? ExportedFunctionAt(ulong address) => exportedFunctions.Value.Find(address - LoadBias);

    public string Describe(ulong address) => FunctionAt(address) is { } symbol
        ? $"{symbol.Name}+0x{address - LoadBias - symbol.Value:x}"
        : $"{FileName}+0x{address - LoadBias:x}";

    public override string ToString() => Path;
}
