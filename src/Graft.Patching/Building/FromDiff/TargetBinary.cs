using Graft.Elf;
using Graft.X86.References;

namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// The executable or library the patch is for (--binary), read from its file: where each symbol of
/// the build lies in it, and whether a function of the original build is the code it runs.
/// </summary>
internal sealed class TargetBinary
{
    private static readonly ElfSymbolType[] LocalTypes = [ElfSymbolType.Func, ElfSymbolType.Object, ElfSymbolType.NoType];

    public TargetBinary(string path)
    {
        Path = path;
        Elf = ElfFile.Load(path);
        if (Elf.Symbols.Count <= 1)
        {
            throw new GraftException(GraftFailure.Refused, $"{path} has no symbol table (.symtab): the functions of the build cannot be found in it");
        }
    }

    public string Path { get; }

    public ElfFile Elf { get; }

    /// <summary>
    /// graft.h's object name: null for an executable, the soname of a library. A position-independent executable is
    /// a shared object with an interpreter: named by its file name, it would not be found in a process that runs it
    /// under another name (Debian's redis-server is a symlink to redis-check-rdb, the name its maps give).
    /// </summary>
    public string? ObjectName => Elf.Kind == ElfKind.SharedObject && !Elf.Segments.Any(s => s.Type == ElfSegmentType.Interp)
        ? Elf.Soname ?? System.IO.Path.GetFileName(Path)
        : null;

    /// <summary>The binary's symbol for <paramref name="name"/> of <paramref name="sourceFile"/>: a local symbol of
    /// that source file (its STT_FILE entry precedes it), else the global one; with the sympos that names it.</summary>
    public (ElfSymbol Symbol, ulong Sympos)? Find(string name, string sourceFile)
    {
        string? file = null;
        ElfSymbol? found = null;
        foreach (var symbol in Elf.Symbols)
        {
            if (symbol.Type == ElfSymbolType.File)
            {
                file = symbol.Name;
            }
            else if (symbol.Name == name && symbol.IsDefined && LocalTypes.Contains(symbol.Type)
                && (symbol.Binding != ElfSymbolBinding.Local || file == sourceFile))
            {
                found = symbol;
                if (symbol.Binding == ElfSymbolBinding.Local)
                {
                    break;
                }
            }
        }

        if (found is null)
        {
            return null;
        }

        var types = found.Type == ElfSymbolType.Func ? [ElfSymbolType.Func] : LocalTypes;
        for (ulong sympos = 0; ; sympos++)
        {
            var lookup = ElfSymbolLookup.Find(Elf, name, sympos, types);
            if (lookup.Symbol?.Value == found.Value)
            {
                return (found, sympos);
            }

            if (lookup.Error == SymbolLookupError.PositionOutOfRange)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// Refuses unless <paramref name="name"/> of the original build is the code the binary has: the same
    /// instructions one by one (<see cref="SameCode"/>), where a branch or RIP-relative operand that names a
    /// function or variable of the binary must reach it, and the other relocated fields are left out.
    /// </summary>
    public void Prove(CompiledObject original, string name)
    {
        var built = original.Functions[name];
        var section = original.SectionOf(built);
        if (Find(name, original.SourceFile) is not var (symbol, _) || symbol.Type != ElfSymbolType.Func)
        {
            throw Differs(name, original, $"{Path} has no function '{name}' of {original.SourceFile}");
        }

        var running = new byte[symbol.Size];
        if (!Elf.TryReadAtAddress(symbol.Value, running))
        {
            throw Differs(name, original, $"its {symbol.Size} bytes at 0x{symbol.Value:x} are not in the file {Path}");
        }

        var fields = original.RelocationsOf(section).Select(relocation => new RelocatedField(
            (int)relocation.Offset,
            RelocationKinds.FieldSize(relocation.Type),
            Reaches(original, section, relocation),
            RelocationKinds.IsGotLoad(relocation.Type),
            SectionComparison.Meaning(original, section, relocation))).ToList();
        if (SameCode.FirstDifference(original.Bytes(section), fields, running, symbol.Value, NameOf) is { } difference)
        {
            throw Differs(name, original, difference);
        }
    }

    /// <summary>The address in the binary a PC-relative operand reaches once linked (what it names, plus its addend, plus the
    /// distance from the field to the end of its instruction); null for other relocations and names the binary lacks.</summary>
    private ulong? Reaches(CompiledObject obj, ElfSection within, ElfRelocation relocation) =>
        relocation.Type is ElfRelocationType.R_X86_64_PC32 or ElfRelocationType.R_X86_64_PLT32
        && Expected(obj, within, relocation) is { } target
            ? (ulong)((long)target + relocation.Addend + obj.Reach(within, relocation))
            : null;

    /// <summary>The binary's function or variable that covers <paramref name="address"/>, and the offset into it.</summary>
    private string? NameOf(ulong address)
    {
        var symbol = Elf.Symbols.FirstOrDefault(s => s.Type is ElfSymbolType.Func or ElfSymbolType.Object && s.IsDefined
            && address >= s.Value && (address < s.Value + s.Size || address == s.Value));
        return symbol is null ? null : $"{symbol.Name}{(long)(address - symbol.Value):+0;-0}";
    }

    /// <summary>The address in the binary of what a relocation names plus the section offset it adds; null when the name is not
    /// in the binary (a library's function, reached through the PLT) or the relocation names anonymous data.</summary>
    private ulong? Expected(CompiledObject obj, ElfSection within, ElfRelocation relocation)
    {
        if (relocation.Symbol is not { } symbol)
        {
            return null;
        }

        if (obj.Place(within, relocation) is not var (target, offset))
        {
            return Find(symbol.Name, obj.SourceFile)?.Symbol.Value;
        }

        // The address the relocation's symbol stands for: the named object's, less where that object lies past it.
        var named = obj.NamedAt(target, offset);
        return named is null ? null : Find(named.Name, obj.SourceFile)?.Symbol.Value + (ulong)((long)symbol.Value - (long)named.Value);
    }

    private GraftException Differs(string name, CompiledObject original, string why) =>
        new(GraftFailure.Refused,
            $"{Path} is not the binary the source describes: function '{name}' ({original.SourceFile}) differs from the original build: {why}; "
            + "build the patch from the source and with the flags the binary was built from (--build)");
}
