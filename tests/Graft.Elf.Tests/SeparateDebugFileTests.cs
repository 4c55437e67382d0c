using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

/// <summary>
/// A program split as Debian's -dbgsym packages split it (objcopy --only-keep-debug, strip, --add-gnu-debuglink):
/// its symbols and DWARF are read from the debug file its .gnu_debuglink names, beside it or in .debug/, and a debug
/// file whose CRC-32 does not match is not taken.
/// </summary>
public sealed class SeparateDebugFileTests : IDisposable
{
    private const string Source = """
        static int __attribute__((noinline)) hidden_helper(int x) { return x * 3 + 1; }
        static inline int twice(int x) { return x * 2; }
        int main(int argc, char **argv) { (void)argv; return hidden_helper(argc) + twice(argc); }
        """;

    private readonly string directory = Directory.CreateTempSubdirectory("graft-elf-debuglink-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Theory]
    [InlineData("")]
    [InlineData(".debug")]
    public void SymbolsAndDwarfOfAStrippedProgramComeFromItsDebugLink(string subdirectory)
    {
        string program = SplitProgram(subdirectory);

        ElfFile elf = ElfFile.Load(program);

        string debugFile = Path.Combine(directory, subdirectory, "prog.debug");
        Assert.Equal($".symtab of {debugFile}", elf.SymbolTableName);
        SymbolLookupResult helper = ElfSymbolLookup.Find(elf, "hidden_helper", 0, ElfSymbolType.Func);
        Assert.NotNull(helper.Symbol);
        Assert.Equal(ElfSymbolBinding.Local, helper.Symbol.Binding);
        Assert.NotNull(InlinedCopies.Read(elf));
    }

    /// <summary>dh_strip compresses the DWARF it keeps (zlib, SHF_COMPRESSED): read decompressed, it tells the same.</summary>
    [Fact]
    public void CompressedDebugSectionsGiveTheSymbolsAndTheDwarf()
    {
        string program = SplitProgram("", "--compress-debug-sections=zlib");

        ElfFile elf = ElfFile.Load(program);

        Assert.True(ElfSymbolLookup.Find(elf, "hidden_helper", 0, ElfSymbolType.Func).IsFound);
        Assert.NotEqual(0UL, elf.DwarfFile().FindSection(".debug_info")!.Flags & 0x800);
        Assert.Equal(new Dictionary<string, int> { ["main"] = 1 }, InlinedCopies.Read(elf)!.CallersOf("twice"));
    }

    /// <summary>A damaged stream leaves the symbols readable and the DWARF said to be unreadable, never read as empty.</summary>
    [Fact]
    public void ADamagedCompressedSectionIsSaidToBeUnreadable()
    {
        SplitProgram("", "--compress-debug-sections=zlib");
        byte[] image = File.ReadAllBytes(Path.Combine(directory, "prog.debug"));
        ElfSection info = ElfFile.Parse(image).FindSection(".debug_info")!;
        image.AsSpan((int)info.Offset + 24, 8).Fill(0xff);

        ElfFile debug = ElfFile.Parse(image);

        Assert.True(ElfSymbolLookup.Find(debug, "hidden_helper", 0, ElfSymbolType.Func).IsFound);
        Assert.Contains("compressed in a way graft does not read", Assert.Throws<ElfFormatException>(() => InlinedCopies.Read(debug)).Message);
    }

    [Fact]
    public void ADebugFileOfAnotherBuildIsNotTakenAndTheMissingOneIsNamed()
    {
        string program = SplitProgram("");
        string debugFile = Path.Combine(directory, "prog.debug");
        File.AppendAllText(debugFile, "changed");

        ElfFile elf = ElfFile.Load(program);
        SymbolLookupResult helper = ElfSymbolLookup.Find(elf, "hidden_helper", 0, ElfSymbolType.Func);

        Assert.Null(helper.Symbol);
        Assert.Equal(".dynsym", elf.SymbolTableName);
        Assert.Contains($"/usr/lib/debug/.build-id/{elf.BuildId![..2]}/{elf.BuildId[2..]}.debug", helper.Message);
        Assert.Contains($"{debugFile} (CRC-32 does not match .gnu_debuglink)", helper.Message);
        Assert.Contains($"{directory}/.debug/prog.debug", helper.Message);
    }

    /// <summary>Builds the program, keeps its debug file in <paramref name="subdirectory"/> and strips it as dh_strip does.</summary>
    private string SplitProgram(string subdirectory, params string[] keepDebugFlags)
    {
        string source = Path.Combine(directory, "prog.c");
        string program = Path.Combine(directory, "prog");
        string debugFile = Path.Combine(directory, "prog.debug");
        File.WriteAllText(source, Source);
        ExternalTool.Run("gcc", "-O2", "-g", "-Wl,--build-id", "-o", program, source);
        ExternalTool.Run("objcopy", ["--only-keep-debug", .. keepDebugFlags, program, debugFile]);
        ExternalTool.Run("strip", "--strip-debug", "--strip-unneeded", "--remove-section=.comment", program);
        ExternalTool.Run("objcopy", $"--add-gnu-debuglink={debugFile}", program);
        Assert.Empty(ElfFile.Parse(File.ReadAllBytes(program)).Symbols);
        if (subdirectory.Length > 0)
        {
            Directory.CreateDirectory(Path.Combine(directory, subdirectory));
            File.Move(debugFile, Path.Combine(directory, subdirectory, "prog.debug"));
        }

        return program;
    }
}
