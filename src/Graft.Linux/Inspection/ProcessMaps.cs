using System.Globalization;

namespace Graft.Linux.Inspection;

/// <summary>Parses /proc/&lt;pid&gt;/maps.</summary>
public static class ProcessMaps
{
    public static IReadOnlyList<MemoryMapping> Read(int pid) => ParseText(ReadText(pid, ProcDirectory.Of(pid)));

    /// <summary>The map as the kernel writes it, from the process's /proc directory (<see cref="ProcDirectory.Of"/>).</summary>
    public static string ReadText(int pid, string directory)
    {
        try
        {
            return File.ReadAllText($"{directory}/maps");
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new Tracing.TargetGoneException($"no process with pid {pid}");
        }
    }

    public static IReadOnlyList<MemoryMapping> ParseText(string text) =>
        [.. text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse)];

    public static MemoryMapping Parse(string line)
    {
        // "start-end perms offset dev inode   path"; the path may contain spaces.
        var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 5)
        {
            throw new FormatException($"unexpected line in /proc/<pid>/maps: '{line}'");
        }

        var range = fields[0].Split('-');
        return new MemoryMapping(
            ulong.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            fields[1],
            ulong.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture),
            ulong.Parse(fields[4], CultureInfo.InvariantCulture),
            fields.Length > 5 ? fields[5].Trim() : "",
            fields[3]);
    }
}
