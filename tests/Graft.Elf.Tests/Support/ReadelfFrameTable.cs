using System.Globalization;
using System.Text.RegularExpressions;

namespace Graft.Elf.Tests.Support;

/// <summary>The FDE tables of <c>readelf --debug-dump=frames-interp</c>: per FDE, its range and rows of
/// (location, CFA cell, register cells by column name).</summary>
internal sealed partial record ReadelfFrameTable(ulong Start, ulong End, IReadOnlyList<ReadelfFrameRow> Rows)
{
    public static IReadOnlyList<ReadelfFrameTable> Read(string path)
    {
        string[] lines = ExternalTool.Run("readelf", requireSuccess: false, "--debug-dump=frames-interp", path).Split('\n');
        var tables = new List<ReadelfFrameTable>();
        for (int i = 0; i < lines.Length; i++)
        {
            Match fde = FdeHeader().Match(lines[i]);
            if (!fde.Success || i + 1 >= lines.Length || !lines[i + 1].TrimStart().StartsWith("LOC", StringComparison.Ordinal))
            {
                continue;
            }

            string[] columns = Cells(lines[i + 1]);
            var rows = new List<ReadelfFrameRow>();
            for (i += 2; i < lines.Length && lines[i].Trim().Length > 0; i++)
            {
                string[] cells = Cells(lines[i]);
                var registers = new Dictionary<string, string>();
                for (int c = 2; c < columns.Length; c++)
                {
                    registers[columns[c]] = cells[c];
                }

                rows.Add(new ReadelfFrameRow(Hex(cells[0]), cells[1], registers));
            }

            tables.Add(new ReadelfFrameTable(Hex(fde.Groups["start"].Value), Hex(fde.Groups["end"].Value), rows));
        }

        return tables;
    }

    // A register rule reads "r9 (r9)": a token in parentheses belongs to the cell before it.
    private static string[] Cells(string line)
    {
        var cells = new List<string>();
        foreach (string token in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.StartsWith('(') && cells.Count > 0)
            {
                cells[^1] += " " + token;
            }
            else
            {
                cells.Add(token);
            }
        }

        return [.. cells];
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^[0-9a-f]+ [0-9a-f]+ [0-9a-f]+ FDE cie=[0-9a-f]+ pc=(?<start>[0-9a-f]+)\.\.(?<end>[0-9a-f]+)")]
    private static partial Regex FdeHeader();
}

internal sealed record ReadelfFrameRow(ulong Location, string Cfa, IReadOnlyDictionary<string, string> Registers);
