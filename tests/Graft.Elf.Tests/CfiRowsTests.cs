using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

public sealed class CfiRowsTests
{
    [RequiresToolsFact("readelf")]
    public void EveryRowOfLsMatchesReadelf() => CompareWithReadelf(SystemFiles.Ls);

    [RequiresToolsFact("readelf")]
    public void EveryRowOfTheDynamicLinkerMatchesReadelf() => CompareWithReadelf(SystemFiles.DynamicLinker);

    [RequiresToolsFact("readelf")]
    public void EveryRowOfLibcMatchesReadelf() => CompareWithReadelf(SystemFiles.Libc);

    [Fact]
    public void FindReturnsTheFdeContainingAPc()
    {
        EhFrameTable table = ElfFile.Load(SystemFiles.Libc).EhFrame!;
        FrameDescription some = table.Entries[table.Entries.Count / 2];

        Assert.Same(some, table.Find(some.InitialLocation));
        Assert.Same(some, table.Find(some.EndLocation - 1));
        Assert.NotSame(some, table.Find(some.EndLocation));
        Assert.Null(table.Find(0));
        Assert.True(table.Entries.Zip(table.Entries.Skip(1)).All(p => p.First.InitialLocation <= p.Second.InitialLocation));
        Assert.Throws<ArgumentOutOfRangeException>(() => some.ComputeRow(some.EndLocation));
    }

    private static void CompareWithReadelf(string path)
    {
        EhFrameTable table = ElfFile.Load(path).EhFrame!;
        IReadOnlyList<ReadelfFrameTable> expected = ReadelfFrameTable.Read(path);
        Assert.NotEmpty(expected);
        int comparedRows = 0;
        foreach (ReadelfFrameTable fdeTable in expected)
        {
            FrameDescription fde = table.Find(fdeTable.Start) ?? throw new Xunit.Sdk.XunitException($"no FDE at 0x{fdeTable.Start:x}");
            Assert.Equal(fdeTable.End, fde.EndLocation);
            for (int i = 0; i < fdeTable.Rows.Count; i++)
            {
                ReadelfFrameRow row = fdeTable.Rows[i];
                bool supersededAtSameLocation = i + 1 < fdeTable.Rows.Count && fdeTable.Rows[i + 1].Location == row.Location;
                if (supersededAtSameLocation)
                {
                    continue;
                }

                ulong last = (i + 1 < fdeTable.Rows.Count ? fdeTable.Rows[i + 1].Location : fde.EndLocation) - 1;
                AssertRow(fde, row, row.Location);
                AssertRow(fde, row, last);
                comparedRows++;
            }
        }

        Assert.True(comparedRows > expected.Count, $"only {comparedRows} rows compared");
    }

    private static void AssertRow(FrameDescription fde, ReadelfFrameRow expected, ulong pc)
    {
        CfiRow row = fde.ComputeRow(pc);
        string where = $"{fde} at pc 0x{pc:x}";
        Assert.True(expected.Cfa == ReadelfCells.Cfa(row.Cfa), $"{where}: CFA {ReadelfCells.Cfa(row.Cfa)}, readelf {expected.Cfa}");
        foreach ((string column, string cell) in expected.Registers)
        {
            int? register = ReadelfCells.RegisterNumber(column);
            if (register is { } number)
            {
                string actual = ReadelfCells.Register(row, number);
                Assert.True(cell == actual, $"{where}: {column} is {actual}, readelf {cell}");
            }
        }
    }
}
