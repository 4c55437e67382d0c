using System.Buffers.Binary;
using Graft.Elf;

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

    /// <summary>graft.h's object name: null for an executable, the soname of a library.</summary>
    public string? ObjectName => Elf.Kind == ElfKind.SharedObject ? Elf.Soname ?? System.IO.Path.GetFileName(Path) : null;

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
    /// Refuses unless <paramref name="name"/> of the original build is the code the binary has: the
    /// same size and the same bytes, where relocated fields that name a function or variable of
    /// the binary must reach it, and the other relocated fields are left out.
    /// </summary>
    public void Prove(CompiledObject original, string name)
    {
        var built = original.Functions[name];
        var section = original.SectionOf(built);
        var bytes = original.Bytes(section);
        if (Find(name, original.SourceFile) is not var (symbol, _) || symbol.Type != ElfSymbolType.Func)
        {
            throw Differs(name, original, $"{Path} has no function '{name}' of {original.SourceFile}");
        }

        var running = new byte[symbol.Size];
        if (symbol.Size != (ulong)bytes.Length || !Elf.TryReadAtAddress(symbol.Value, running))
        {
            throw Differs(name, original, $"it is {symbol.Size} bytes in {Path} and {bytes.Length} in the build");
        }

        foreach (var relocation in original.RelocationsOf(section))
        {
            var field = (int)relocation.Offset;
            var size = RelocationKinds.FieldSize(relocation.Type);
            if (Expected(original, section, relocation) is { } target && relocation.Type is ElfRelocationType.R_X86_64_PC32 or ElfRelocationType.R_X86_64_PLT32)
            {
                var value = (long)target + relocation.Addend - (long)(symbol.Value + relocation.Offset);
                if (BinaryPrimitives.ReadInt32LittleEndian(running.AsSpan(field)) != value)
                {
                    throw Differs(name, original, $"the instruction at +0x{field - 1:x} does not refer to {SectionComparison.Meaning(original, section, relocation)}");
                }
            }

            // The linker may turn a GOT load into a lea: the opcode and ModRM before the field change with it.
            var from = RelocationKinds.IsGotLoad(relocation.Type) ? Math.Max(0, field - 2) : field;
            bytes.AsSpan(from, field + size - from).Clear();
            running.AsSpan(from, field + size - from).Clear();
        }

        var first = bytes.AsSpan().CommonPrefixLength(running);
        if (first < bytes.Length)
        {
            throw Differs(name, original, $"the bytes differ at +0x{first:x}");
        }
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
