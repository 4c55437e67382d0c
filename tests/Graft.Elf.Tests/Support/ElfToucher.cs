using Graft.Elf.Dwarf;

namespace Graft.Elf.Tests.Support;

/// <summary>Uses every part of the public API on one image, accepting <see cref="ElfFormatException"/>
/// as an outcome; any other exception escapes to fail the test.</summary>
internal sealed class ElfToucher
{
    /// <summary>Images that <see cref="ElfFile.Parse"/> refused.</summary>
    public int Refused { get; private set; }

    /// <summary>Images that parsed, whose later use hit at least one malformed table or program.</summary>
    public int PartlyMalformed { get; private set; }

    /// <summary>Images that parsed and whose every part could be used.</summary>
    public int FullyUsable { get; private set; }

    private int _rejections;

    public void TouchEverything(byte[] image)
    {
        ElfFile elf;
        try
        {
            elf = ElfFile.Parse(image);
        }
        catch (ElfFormatException)
        {
            Refused++;
            return;
        }

        _rejections = 0;

        _ = elf.Kind;
        _ = elf.LowestLoadAddress;
        _ = elf.FindSection(".text");
        foreach (ElfSection section in elf.Sections)
        {
            _ = elf.GetSectionData(section);
        }

        foreach (ElfSegment segment in elf.Segments)
        {
            elf.TryReadAtAddress(segment.VirtualAddress, new byte[Math.Min(segment.MemorySize, 64)]);
        }

        Accept(() => elf.BuildId);
        Accept(() => elf.Soname);
        Accept(() => elf.DynamicEntries);
        Accept(() => elf.Symbols);
        Accept(() => elf.DynamicSymbols);
        Accept(() => elf.Relocations);
        Accept(() => ElfSymbolLookup.Find(elf, "main", 0, ElfSymbolType.Func));
        Accept(() => ElfSymbolLookup.Find(elf, "malloc", 1));
        Accept(() => TouchFrames(elf));
        if (_rejections > 0)
        {
            PartlyMalformed++;
        }
        else
        {
            FullyUsable++;
        }
    }

    private object? TouchFrames(ElfFile elf)
    {
        EhFrameTable? table = elf.EhFrame;
        if (table is null)
        {
            return null;
        }

        foreach (FrameDescription fde in table.Entries.Where(f => f.AddressRange > 0))
        {
            table.Find(fde.InitialLocation);
            Accept(() => fde.ComputeRow(fde.InitialLocation));
            Accept(() => Evaluate(fde.ComputeRow(fde.EndLocation - 1)));
        }

        return table;
    }

    private static object? Evaluate(CfiRow row)
    {
        var machine = new ZeroMachine();
        ulong cfa = row.Cfa is CfaRule.Expression cfaExpression ? DwarfExpression.Evaluate(cfaExpression.Bytes.Span, machine) : 0;
        foreach (RegisterRule rule in row.ExplicitRules.Values)
        {
            ReadOnlyMemory<byte>? expression = rule switch
            {
                RegisterRule.Expression e => e.Bytes,
                RegisterRule.ValExpression v => v.Bytes,
                _ => null,
            };
            if (expression is { } bytes)
            {
                DwarfExpression.Evaluate(bytes.Span, machine, cfa);
            }
        }

        return row;
    }

    private void Accept(Func<object?> use)
    {
        try
        {
            use();
        }
        catch (ElfFormatException)
        {
            _rejections++;
        }
    }
}

internal sealed class ZeroMachine : IDwarfExpressionContext
{
    public ulong ReadRegister(int dwarfRegister) => 0;

    public ulong ReadMemory(ulong address) => 0;
}
