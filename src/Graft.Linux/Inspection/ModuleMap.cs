using Graft.Elf;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Inspection;

/// <summary>The ELF objects of a process, read from /proc/&lt;pid&gt;/maps and the files they map.</summary>
public sealed class ModuleMap
{
    /// <summary>The map <see cref="Read"/> finds; tests build one from objects they place themselves.</summary>
    internal ModuleMap(IReadOnlyList<LoadedModule> modules, IReadOnlyList<MemoryMapping> mappings)
    {
        Modules = modules;
        Mappings = mappings;
    }

    public IReadOnlyList<LoadedModule> Modules { get; }

    public IReadOnlyList<MemoryMapping> Mappings { get; }

    public LoadedModule MainExecutable => Modules.First(m => m.IsMainExecutable);

    /// <summary>
    /// A file the process holds open as well as mapped: a deleted file (a patch's memfd) when
    /// map_files is not there to reach it, as once the leader thread has exited.
    /// </summary>
    private static string? OpenCopy(string directory, string path, ulong inode)
    {
        try
        {
            return Directory.GetFiles($"{directory}/fd").FirstOrDefault(fd =>
                new FileInfo(fd).LinkTarget == path && Files.stat(fd, out var status) == 0 && status.st_ino == inode);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Reads the map; objects still mapped where <paramref name="previous"/> saw them keep their parsed ELF and unwind tables.</summary>
    public static ModuleMap Read(int pid, RemoteMemory memory, ModuleMap? previous = null)
    {
        var mappings = ProcessMaps.Read(pid);
        var executable = ReadExecutablePath(pid);
        var modules = new List<LoadedModule>();
        foreach (var group in mappings.Where(m => m.IsFile).GroupBy(m => (m.Path, m.Inode)))
        {
            var parts = group.OrderBy(m => m.Start).ToList();
            if (parts[0].FileOffset != 0)
            {
                // Not an ELF object's image (e.g. a data file mapped at an offset).
                continue;
            }

            var path = group.Key.Path;
            if (previous?.Modules.FirstOrDefault(m => m.Path == path && m.Start == parts[0].Start) is { } known)
            {
                modules.Add(known);
                continue;
            }

            var directory = ProcDirectory.Of(pid);
            var onDisk = $"{directory}/map_files/{parts[0].Start:x}-{parts[0].End:x}";
            var inode = group.Key.Inode;
            modules.Add(new LoadedModule(path, path == executable, parts,
                () => ElfFile.Load(File.Exists(onDisk) ? onDisk : OpenCopy(directory, path, inode) ?? path)));
        }

        if (mappings.FirstOrDefault(m => m.Path == "[vdso]") is { } vdso)
        {
            modules.Add(previous?.Modules.FirstOrDefault(m => m.IsVdso && m.Start == vdso.Start) ?? new LoadedModule("[vdso]", false, [vdso], () => ElfFile.Parse(memory.Read(vdso.Start, (int)(vdso.End - vdso.Start)))));
        }

        // Only objects that look like ELF images count; a mapped data file is skipped quietly.
        var elfModules = modules.Where(IsElf).ToList();
        if (!elfModules.Any(m => m.IsMainExecutable))
        {
            throw new TargetGoneException($"cannot find the main executable of process {pid} in its memory map");
        }

        return new ModuleMap(elfModules, mappings);
    }

    public LoadedModule? FindByAddress(ulong address) => Modules.FirstOrDefault(m => m.Contains(address));

    /// <summary>The object a patch names (NULL: the main executable; else file name or soname).</summary>
    public LoadedModule? Find(string? objectName) => Modules.FirstOrDefault(m => m.Matches(objectName));

    public MemoryMapping? MappingAt(ulong address) => Mappings.FirstOrDefault(m => m.Contains(address));

    private static bool IsElf(LoadedModule module)
    {
        try
        {
            _ = module.Elf;
            return true;
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string ReadExecutablePath(int pid)
    {
        try
        {
            return new FileInfo($"{ProcDirectory.Of(pid)}/exe").LinkTarget ?? "";
        }
        catch (IOException)
        {
            throw new TargetGoneException($"no process with pid {pid}");
        }
    }
}
