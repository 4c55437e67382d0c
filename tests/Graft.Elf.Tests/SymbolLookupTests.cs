using System.Buffers.Binary;

using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

public sealed class SymbolLookupTests(CompiledProgram program) : IClassFixture<CompiledProgram>
{
    [RequiresToolsFact("gcc")]
    public void TwoStaticHelpersAreAmbiguousWithoutSympos()
    {
        SymbolLookupResult result = ElfSymbolLookup.Find(Load(), "helper", 0, ElfSymbolType.Func);

        Assert.Equal(SymbolLookupError.Ambiguous, result.Error);
        Assert.Equal(2, result.Count);
        Assert.Null(result.Symbol);
        Assert.Equal("symbol 'helper' is ambiguous: 2 local symbols share the name; set old_sympos (1..2)", result.Message);
    }

    [RequiresToolsFact("gcc")]
    public void SymposPicksOccurrencesInSymbolTableOrder()
    {
        ElfFile elf = Load();

        SymbolLookupResult first = ElfSymbolLookup.Find(elf, "helper", 1, ElfSymbolType.Func);
        SymbolLookupResult second = ElfSymbolLookup.Find(elf, "helper", 2, ElfSymbolType.Func);

        Assert.True(first.IsFound, first.Message);
        Assert.True(second.IsFound, second.Message);
        Assert.Equal(ElfSymbolBinding.Local, first.Symbol!.Binding);
        Assert.Equal(0x1111u, ReturnedConstant(elf, first.Symbol));
        Assert.Equal(0x2222u, ReturnedConstant(elf, second.Symbol!));
    }

    [RequiresToolsFact("gcc")]
    public void SymposBeyondTheOccurrencesIsOutOfRange()
    {
        SymbolLookupResult result = ElfSymbolLookup.Find(Load(), "helper", 3, ElfSymbolType.Func);

        Assert.Equal(SymbolLookupError.PositionOutOfRange, result.Error);
        Assert.Equal(2, result.Count);
        Assert.Contains("old_sympos 3 is out of range (1..2)", result.Message);
    }

    [RequiresToolsFact("gcc")]
    public void UniqueSymbolIsFoundWithSymposZeroOrOne()
    {
        ElfFile elf = Load();
        ElfSymbol main = ElfSymbolLookup.Find(elf, "main", 0, ElfSymbolType.Func).Symbol!;

        Assert.Equal(ElfSymbolBinding.Global, main.Binding);
        Assert.Same(main, ElfSymbolLookup.Find(elf, "main", 1, ElfSymbolType.Func).Symbol);
        Assert.Equal(SymbolLookupError.PositionOutOfRange, ElfSymbolLookup.Find(elf, "main", 2, ElfSymbolType.Func).Error);
    }

    [RequiresToolsFact("gcc")]
    public void TypesFilterAndUnknownNamesAreNotFound()
    {
        ElfFile elf = Load();

        Assert.Equal(SymbolLookupError.NotFound, ElfSymbolLookup.Find(elf, "counter", 0, ElfSymbolType.Func).Error);
        Assert.Equal(ElfSymbolType.Object, ElfSymbolLookup.Find(elf, "counter", 0, ElfSymbolType.Object).Symbol?.Type);
        Assert.True(ElfSymbolLookup.Find(elf, "counter", 0).IsFound);
        SymbolLookupResult missing = ElfSymbolLookup.Find(elf, "no_such_function", 0, ElfSymbolType.Func);
        Assert.Equal(SymbolLookupError.NotFound, missing.Error);
        Assert.Equal("symbol 'no_such_function' not found among the defined func symbols of .symtab", missing.Message);
    }

    [RequiresToolsFact("gcc")]
    public void UndefinedSymbolsAreNeverFound()
    {
        ElfFile elf = Load();
        Assert.Contains(elf.Symbols, s => s.Name == "__gmon_start__" && !s.IsDefined);
        Assert.Equal(SymbolLookupError.NotFound, ElfSymbolLookup.Find(elf, "__gmon_start__", 0).Error);
    }

    // At -O0 each helper is "push rbp; mov rbp,rsp; mov eax,imm32; ...": find the mov and read its immediate.
    private static uint ReturnedConstant(ElfFile elf, ElfSymbol function)
    {
        var code = new byte[function.Size];
        Assert.True(elf.TryReadAtAddress(function.Value, code));
        int mov = Array.IndexOf(code, (byte)0xb8);
        Assert.True(mov >= 0, $"no mov eax,imm32 in {Convert.ToHexString(code)}");
        return BinaryPrimitives.ReadUInt32LittleEndian(code.AsSpan(mov + 1));
    }

    private ElfFile Load() => ElfFile.Load(program.ExecutablePath!);
}
