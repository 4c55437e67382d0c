using Graft.Elf.Tests.Support;
using Graft.Elf.Writing;

namespace Graft.Elf.Tests;

/// <summary>An object written by <see cref="RelocatableWriter"/> reads back as it was built, and the linker takes it.</summary>
public sealed class RelocatableWriterTests : IDisposable
{
    private const ulong AllocExecute = 0x6;
    private readonly string directory = Directory.CreateTempSubdirectory("graft-writer-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void SectionsSymbolsAndRelocationsReadBack()
    {
        var elf = ElfFile.Parse(Write());

        Assert.Equal(ElfKind.Relocatable, elf.Kind);
        var text = elf.FindSection(".text.f")!;
        Assert.Equal([0xe8, 0, 0, 0, 0, 0xc3], elf.GetSectionData(text).ToArray());
        var f = elf.Symbols.Single(s => s.Name == "f");
        Assert.Equal((ElfSymbolType.Func, ElfSymbolBinding.Global, text.Index, 6UL), (f.Type, f.Binding, (int)f.SectionIndex, f.Size));
        var g = elf.Symbols.Single(s => s.Name == "g");
        Assert.Equal((ElfSymbolBinding.Weak, false), (g.Binding, g.IsDefined));
        var relocation = Assert.Single(elf.Relocations);
        Assert.Equal((1UL, ElfRelocationType.R_X86_64_PLT32, "g", -4L, text.Index), (relocation.Offset, relocation.Type, relocation.Symbol!.Name, relocation.Addend, relocation.AppliesTo));
        Assert.True(elf.Symbols.SkipWhile(s => s.Binding == ElfSymbolBinding.Local).All(s => s.Binding != ElfSymbolBinding.Local), "locals come first");
    }

    [RequiresToolsFact("ld")]
    public void TheLinkerTakesIt()
    {
        var path = Path.Combine(directory, "written.o");
        File.WriteAllBytes(path, Write());

        ExternalTool.Run("ld", "-shared", "-o", Path.Combine(directory, "linked.so"), path);

        Assert.Contains(ElfFile.Load(Path.Combine(directory, "linked.so")).DynamicSymbols, s => s.Name == "g");
    }

    private static byte[] Write()
    {
        var builder = new ObjectBuilder();
        var text = builder.AddSection(".text.f", ElfSectionType.ProgBits, AllocExecute, 16);
        text.Data.AddRange([0xe8, 0, 0, 0, 0, 0xc3]);
        builder.AddSymbol(new OutputSymbol("f", ElfSymbolType.Func, ElfSymbolBinding.Global, 0, text, 0, 6));
        var g = builder.AddSymbol(new OutputSymbol("g", ElfSymbolType.NoType, ElfSymbolBinding.Weak, 0, null, 0, 0));
        text.Relocations.Add(new OutputRelocation(1, ElfRelocationType.R_X86_64_PLT32, g, -4));
        builder.AddSection(".note.GNU-stack", ElfSectionType.ProgBits, 0, 1);
        return RelocatableWriter.Write(builder);
    }
}
