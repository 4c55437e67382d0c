using Graft.Elf;

namespace Graft.Linux.Inspection;

/// <summary>A process of this host as /proc shows it to anyone allowed to read it: nothing stops or slows it.</summary>
public sealed class HostProcess(int pid, string command, ulong startTicks, string mapsText)
{
    private readonly Lazy<IReadOnlyList<MemoryMapping>> mappings = new(() => ProcessMaps.ParseText(mapsText));

    public int Pid { get; } = pid;

    /// <summary>Its command name (/proc/&lt;pid&gt;/comm).</summary>
    public string Command { get; } = command;

    /// <summary>When it started, in clock ticks after boot: a parent always started before the children it forked.</summary>
    public ulong StartTicks { get; } = startTicks;

    public IReadOnlyList<MemoryMapping> Mappings => mappings.Value;

    /// <summary>Whether a mapping's path starts with <paramref name="prefix"/>, read from the text of the map without parsing it.</summary>
    public bool MapsPathStartingWith(string prefix) => mapsText.Contains($" {prefix}", StringComparison.Ordinal);

    public bool Maps(FileIdentity file) => Mappings.Any(file.IsMappedBy);

    /// <summary>The file of its main executable, if it can still be reached.</summary>
    public FileIdentity? Executable
    {
        get
        {
            try
            {
                return FileIdentity.Of($"{ProcDirectory.Of(Pid)}/exe");
            }
            catch (IOException)
            {
                return null;
            }
        }
    }

    /// <summary>
    /// The ELF file a mapping (at offset 0) shows: through map_files, where a deleted or replaced
    /// file is still the one mapped; through its path when map_files is closed to this user.
    /// </summary>
    public ElfFile ReadMapped(MemoryMapping first, ElfFileCache files)
    {
        try
        {
            return files.Load($"{ProcDirectory.Of(Pid)}/map_files/{first.Start:x}-{first.End:x}", first.Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return files.Load(first.Path, first.Path);
        }
    }
}

/// <summary>The user processes of this host: every one but graft itself, graftd and kernel threads; <see cref="Unreadable"/> counts those this user may not inspect.</summary>
public sealed record HostScan(IReadOnlyList<HostProcess> Processes, int Unreadable);

/// <summary>Lists the processes of this host from /proc, without attaching to any.</summary>
public static class HostProcesses
{
    /// <summary>Command names of graft and its service, never targets: they trace the targets.</summary>
    private static readonly string[] GraftCommands = ["graft", "graftd"];

    /// <summary>Every user process but this one, other graft commands (this binary, or named graft) and graftd, oldest first (a parent before its children).</summary>
    public static HostScan Scan()
    {
        var self = FileIdentity.Of("/proc/self/exe");
        var processes = new List<HostProcess>();
        var unreadable = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            switch (Read(pid, directory))
            {
                case null:
                    unreadable++;
                    break;
                case { Mappings.Count: 0 }:
                    // A kernel thread, or a zombie: no memory of its own to patch.
                    break;
                case var process when GraftCommands.Contains(process.Command) || process.Executable == self:
                    break;
                case var process:
                    processes.Add(process);
                    break;
            }
        }

        return new HostScan([.. processes.OrderBy(p => p.StartTicks).ThenBy(p => p.Pid)], unreadable);
    }

    /// <summary>One process, read as <see cref="Scan"/> reads each; null when it is gone, has no memory of its own, or this user may not read its map.</summary>
    public static HostProcess? Of(int pid) => Read(pid, $"/proc/{pid}") is { Mappings.Count: > 0 } process ? process : null;

    /// <summary>The process, or null when this user may not read its memory map (or it is gone: then it is not counted).</summary>
    private static HostProcess? Read(int pid, string directory)
    {
        try
        {
            var stat = File.ReadAllText($"{directory}/stat");
            // After the ')' that ends the command name: field 3 (state) onwards; starttime is field 22.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var command = File.ReadAllText($"{directory}/comm").TrimEnd('\n');
            return new HostProcess(pid, command, ulong.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture),
                File.ReadAllText($"{ProcDirectory.Of(pid)}/maps"));
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        catch (IOException)
        {
            // Exited while it was read: nothing to do for it, and nothing to count.
            return new HostProcess(pid, "", 0, "");
        }
    }
}
