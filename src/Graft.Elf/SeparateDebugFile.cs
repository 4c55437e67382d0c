using Graft.Elf.Parsing;

namespace Graft.Elf;

/// <summary>
/// Where the symbols (.symtab) and DWARF of a stripped object are: its separate debug file, found as gdb finds
/// it and as Debian's -dbgsym packages install it. First by build-id,
/// <c>/usr/lib/debug/.build-id/xx/yyyy.debug</c> (xx the first byte in hex, yyyy the rest), the file's build-id
/// checked; then by the .gnu_debuglink section's file name in the object's directory, its <c>.debug/</c> and
/// <c>/usr/lib/debug/&lt;directory&gt;</c>, the file's CRC-32 checked against the section's.
/// </summary>
/// <param name="File">The debug file found, or null.</param>
/// <param name="Looked">Every path looked at, with why a file there was not taken.</param>
public sealed record SeparateDebugFile(ElfFile? File, string? Path, IReadOnlyList<string> Looked)
{
    public const string Root = "/usr/lib/debug";

    /// <summary>Said where the object's own symbols are missing: what was looked for.</summary>
    public string Missing => Looked.Count == 0
        ? "the object is stripped and names no debug file (no build-id, no .gnu_debuglink)"
        : $"the object is stripped and its debug file is not installed (looked for {string.Join(", ", Looked)})";

    /// <summary>Looks for the debug file of <paramref name="elf"/>, read from <paramref name="objectPath"/>.</summary>
    public static SeparateDebugFile Find(ElfFile elf, string objectPath)
    {
        ArgumentNullException.ThrowIfNull(elf);
        ArgumentNullException.ThrowIfNull(objectPath);
        var looked = new List<string>();
        if (elf.BuildId is { Length: > 2 } buildId)
        {
            string path = $"{Root}/.build-id/{buildId[..2]}/{buildId[2..]}.debug";
            if (Take(path, looked, debug => debug.BuildId == buildId ? null : $"build-id {debug.BuildId ?? "none"}") is { } found)
            {
                return new SeparateDebugFile(found, path, looked);
            }
        }

        DebugLink? link;
        try
        {
            link = DebugLink.Read(elf);
        }
        catch (ElfFormatException e)
        {
            looked.Add($"the file .gnu_debuglink names ({e.Message})");
            return new SeparateDebugFile(null, null, looked);
        }

        if (link is not null)
        {
            string directory = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(objectPath)) ?? "/";
            foreach (string candidate in new[] { directory, $"{directory}/.debug", $"{Root}{directory}" })
            {
                string path = $"{candidate.TrimEnd('/')}/{link.FileName}";
                if (Take(path, looked, debug => Crc32.Of(debug.Image.Span) == link.Crc ? null : "CRC-32 does not match .gnu_debuglink") is { } found)
                {
                    return new SeparateDebugFile(found, path, looked);
                }
            }
        }

        return new SeparateDebugFile(null, null, looked);
    }

    /// <summary>The file at <paramref name="path"/> if it is there and <paramref name="mismatch"/> finds nothing wrong with it.</summary>
    private static ElfFile? Take(string path, List<string> looked, Func<ElfFile, string?> mismatch)
    {
        if (!System.IO.File.Exists(path))
        {
            looked.Add(path);
            return null;
        }

        try
        {
            // Parsed without a search of its own: a debug file has its .symtab.
            ElfFile debug = ElfFile.Parse(System.IO.File.ReadAllBytes(path));
            if (mismatch(debug) is { } why)
            {
                looked.Add($"{path} ({why})");
                return null;
            }

            return debug;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
        {
            looked.Add($"{path} ({e.Message})");
            return null;
        }
    }
}
