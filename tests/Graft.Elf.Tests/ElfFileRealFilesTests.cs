using System.Globalization;
using System.Text.RegularExpressions;

using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

public sealed partial class ElfFileRealFilesTests
{
    private static readonly Lazy<ElfFile> Libc = new(() => ElfFile.Load(SystemFiles.Libc));

    [Fact]
    public void LibcIsASharedObjectNamedLibcSo6()
    {
        Assert.Equal(ElfKind.SharedObject, Libc.Value.Kind);
        Assert.Equal("libc.so.6", Libc.Value.Soname);
        Assert.Contains(Libc.Value.DynamicEntries, e => e.Tag == ElfDynamicTag.Needed);
    }

    [RequiresToolsFact("readelf")]
    public void BuildIdMatchesReadelf()
    {
        foreach (string path in new[] { SystemFiles.Libc, SystemFiles.Ls, SystemFiles.DynamicLinker })
        {
            Match match = BuildIdLine().Match(ExternalTool.Run("readelf", "-n", path));
            Assert.True(match.Success, $"readelf shows no build-id for {path}");
            Assert.Equal(match.Groups[1].Value, ElfFile.Load(path).BuildId);
        }
    }

    [RequiresToolsFact("readelf")]
    public void DynamicSymbolsMatchReadelfWithVersions()
    {
        string listing = ExternalTool.Run("readelf", "--dyn-syms", "-W", SystemFiles.Libc);
        IReadOnlyList<ElfSymbol> symbols = Libc.Value.DynamicSymbols;
        foreach (string name in new[] { "malloc", "dlopen", "free", "printf" })
        {
            foreach (Match line in DynamicSymbolLine(name).Matches(listing))
            {
                int index = int.Parse(line.Groups["index"].Value, CultureInfo.InvariantCulture);
                ElfSymbol symbol = symbols[index];
                Assert.Equal(name, symbol.Name);
                Assert.Equal(ulong.Parse(line.Groups["value"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture), symbol.Value);
                Assert.Equal(ulong.Parse(line.Groups["size"].Value, CultureInfo.InvariantCulture), symbol.Size);
                Assert.Equal(ElfSymbolType.Func, symbol.Type);
                Assert.Equal(line.Groups["version"].Value, symbol.Version);
                Assert.Equal(line.Groups["at"].Value == "@", symbol.IsHiddenVersion);
            }
        }
    }

    [Fact]
    public void DlopenHasADefaultAndAHiddenVersionAtOneAddress()
    {
        ElfSymbol[] dlopen = Libc.Value.DynamicSymbols.Where(s => s.Name == "dlopen").ToArray();
        ElfSymbol current = Assert.Single(dlopen, s => !s.IsHiddenVersion);
        Assert.Equal("GLIBC_2.34", current.Version);
        Assert.Contains(dlopen, s => s.IsHiddenVersion && s.Version == "GLIBC_2.2.5");

        // Found in .dynsym, or in the .symtab of libc's debug file when one is installed (libc6-dbg), whose names
        // carry their version (dlopen@@GLIBC_2.34): the default version either way.
        SymbolLookupResult found = ElfSymbolLookup.Find(Libc.Value, "dlopen", 0, ElfSymbolType.Func);
        Assert.Equal(SymbolLookupError.None, found.Error);
        Assert.Equal(current.Value, found.Symbol!.Value);
        Assert.Equal("GLIBC_2.34", found.Symbol.Version);
        Assert.False(found.Symbol.IsHiddenVersion);
    }

    [Fact]
    public void UndefinedDynamicSymbolsCarryTheRequiredVersion()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        ElfSymbol malloc = Assert.Single(ls.DynamicSymbols, s => s.Name == "malloc");
        Assert.False(malloc.IsDefined);
        Assert.StartsWith("GLIBC_", malloc.Version);
        Assert.Empty(ls.Symbols);
    }

    [RequiresToolsFact("readelf")]
    public void RelocationCountsPerSectionMatchReadelf()
    {
        foreach (string path in new[] { SystemFiles.Libc, SystemFiles.Ls, SystemFiles.DynamicLinker })
        {
            ElfFile elf = ElfFile.Load(path);
            Dictionary<string, int> expected = RelocationSectionLine().Matches(ExternalTool.Run("readelf", "-r", "-W", path))
                .Where(m => elf.FindSection(m.Groups["name"].Value)?.Type == ElfSectionType.Rela)
                .ToDictionary(m => m.Groups["name"].Value, m => int.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture));
            Dictionary<string, int> actual = elf.Relocations.GroupBy(r => r.SectionName).ToDictionary(g => g.Key, g => g.Count());
            Assert.NotEmpty(expected);
            Assert.Equal(expected.OrderBy(p => p.Key), actual.OrderBy(p => p.Key));
        }
    }

    [Fact]
    public void JumpSlotRelocationsResolveVersionedSymbols()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        ElfRelocation[] slots = ls.Relocations.Where(r => r.Type == ElfRelocationType.R_X86_64_JUMP_SLOT).ToArray();
        Assert.NotEmpty(slots);
        Assert.All(slots, r => Assert.Equal(".rela.plt", r.SectionName));
        Assert.Contains(slots, r => r.Symbol is { Name: "getenv", IsDefined: false, Version: "GLIBC_2.2.5" });
        Assert.Contains(ls.Relocations, r => r.Type == ElfRelocationType.R_X86_64_GLOB_DAT && r.Symbol?.Name == "malloc");
        Assert.All(ls.Relocations.Where(r => r.Type == ElfRelocationType.R_X86_64_RELATIVE), r => Assert.Null(r.Symbol));
    }

    [Fact]
    public void SegmentsAndLowestLoadAddressDescribeTheLayout()
    {
        ElfFile ls = ElfFile.Load(SystemFiles.Ls);
        Assert.Equal(ElfKind.SharedObject, ls.Kind);
        Assert.Equal(0UL, ls.LowestLoadAddress);
        Assert.Contains(ls.Segments, s => s.Type == ElfSegmentType.Load && s.Flags == (ElfSegmentFlags.Read | ElfSegmentFlags.Execute));
        Assert.Single(ls.Segments, s => s.Type == ElfSegmentType.GnuEhFrame);
        ElfSection text = Assert.IsType<ElfSection>(ls.FindSection(".text"));
        Assert.Equal((int)text.Size, ls.GetSectionData(text).Length);
        Assert.True(ls.GetSectionData(ls.FindSection(".bss")!).IsEmpty);
        Assert.Null(ls.FindSection(".no-such-section"));
    }

    [Fact]
    public void TextFileIsNotAnElfFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "#!/bin/sh\necho this is not an object file\n");
            ElfFormatException error = Assert.Throws<ElfFormatException>(() => ElfFile.Load(path));
            Assert.Equal("not an ELF file", error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void MissingFileThrowsIOException()
    {
        Assert.ThrowsAny<IOException>(() => ElfFile.Load("/nonexistent/graft/test/file"));
    }

    [GeneratedRegex(@"Build ID: ([0-9a-f]+)")]
    private static partial Regex BuildIdLine();

    [GeneratedRegex(@"Relocation section '(?<name>[^']+)' at offset 0x[0-9a-f]+ contains (?<count>\d+) entr")]
    private static partial Regex RelocationSectionLine();

    private static Regex DynamicSymbolLine(string name) => new(
        $@"^\s*(?<index>\d+): (?<value>[0-9a-f]{{16}})\s+(?<size>\d+) FUNC\s+\w+\s+\w+\s+\d+ {Regex.Escape(name)}(?<at>@@?)(?<version>\S+)\s*$",
        RegexOptions.Multiline);
}
