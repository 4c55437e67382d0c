using Graft.Elf;
using Graft.Linux.Interop;
using Graft.Linux.Tracing;

namespace Graft.Linux.Inspection;

/// <summary>The ELF objects of a process, read from /proc/&lt;pid&gt;/maps and the files they map.</summary>
public sealed class ModuleMap
{
    // The text the map was read from, and the parsed files it shares with the maps read after it.
    private readonly string text;
    private readonly ElfFileCache files;

    /// <summary>The map <see cref="Read"/> finds; tests build one from objects they place themselves.</summary>
    internal ModuleMap(IReadOnlyList<LoadedModule> modules, IReadOnlyList<MemoryMapping> mappings)
        : this(modules, mappings, "", new ElfFileCache())
    {
    }

    private ModuleMap(IReadOnlyList<LoadedModule> modules, IReadOnlyList<MemoryMapping> mappings, string text, ElfFileCache files)
    {
        Modules = modules;
        Mappings = mappings;
        this.text = text;
        this.files = files;
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

    /// <summary>
    /// The file a mapping shows: through map_files, where a deleted or replaced file is still the
    /// one mapped. Only CAP_SYS_ADMIN opens those (CAP_SYS_PTRACE alone sees the entries but may
    /// not open them); then the descriptor the process holds, or the path while it still names
    /// the mapped file (same inode), else map_files again, which then fails as not an object.
    /// </summary>
    private static ElfFile LoadMapped(ElfFileCache files, string onDisk, string directory, string path, ulong inode)
    {
        if (File.Exists(onDisk))
        {
            try
            {
                return files.Load(onDisk, path);
            }
            catch (UnauthorizedAccessException)
            {
                // Closed to this user: read the file another way.
            }
        }

        if (OpenCopy(directory, path, inode) is { } copy)
        {
            return files.Load(copy, path);
        }

        return files.Load(Files.stat(path, out var status) == 0 && status.st_ino == inode ? path : onDisk, path);
    }

    /// <summary>
    /// Reads the map. Objects still mapped where <paramref name="previous"/> saw them (same file,
    /// same place) keep their parsed ELF and unwind tables, and files parsed for an earlier map
    /// are not read again: graftd reads the map at every library load and unload.
    /// </summary>
    public static ModuleMap Read(int pid, RemoteMemory memory, ModuleMap? previous = null)
    {
        var directory = ProcDirectory.Of(pid);
        var text = ProcessMaps.ReadText(pid, directory);
        if (previous is not null && text == previous.text)
        {
            return previous;
        }

        var mappings = ProcessMaps.ParseText(text);
        var files = previous?.files ?? new ElfFileCache();
        var known = new Dictionary<(string Path, ulong Start, ulong Inode), LoadedModule>();
        foreach (var module in previous?.Modules ?? [])
        {
            known.TryAdd(Key(module), module);
        }

        // Read only when some object is new: at a dlclose none is.
        string? executable = null;
        var modules = new List<LoadedModule>();
        foreach (var parts in mappings.Where(m => m.IsFile).GroupBy(m => (m.Path, m.Inode)).SelectMany(Copies))
        {
            if (parts[0].FileOffset != 0)
            {
                // Not an ELF object's image (e.g. a data file mapped at an offset).
                continue;
            }

            var (path, inode) = (parts[0].Path, parts[0].Inode);
            if (known.TryGetValue((path, parts[0].Start, inode), out var same))
            {
                modules.Add(same);
                continue;
            }

            if (!StartsLikeElf(memory, parts[0]))
            {
                // A data file, or Graft's own state mapping (4 MiB): never read as an object.
                continue;
            }

            var onDisk = $"{directory}/map_files/{parts[0].Start:x}-{parts[0].End:x}";
            executable ??= ReadExecutablePath(pid, directory);
            modules.Add(new LoadedModule(path, path == executable, parts, () => LoadMapped(files, onDisk, directory, path, inode)));
        }

        if (mappings.FirstOrDefault(m => m.Path == "[vdso]") is { } vdso)
        {
            modules.Add(known.GetValueOrDefault(("[vdso]", vdso.Start, vdso.Inode)) ?? new LoadedModule("[vdso]", false, [vdso], () => ElfFile.Parse(memory.Read(vdso.Start, (int)(vdso.End - vdso.Start)))));
        }

        // Only objects that look like ELF images count; a mapped data file is skipped quietly.
        var elfModules = modules.Where(IsElf).ToList();
        if (!elfModules.Any(m => m.IsMainExecutable))
        {
            throw new TargetGoneException($"cannot find the main executable of process {pid} in its memory map");
        }

        return new ModuleMap(elfModules, mappings, text, files);
    }

    public LoadedModule? FindByAddress(ulong address) => Modules.FirstOrDefault(m => m.Contains(address));

    /// <summary>The object a patch names (NULL: the main executable; else file name or soname).</summary>
    public LoadedModule? Find(string? objectName) => Modules.FirstOrDefault(m => m.Matches(objectName));

    public MemoryMapping? MappingAt(ulong address) => Mappings.FirstOrDefault(m => m.Contains(address));

    /// <summary>
    /// The mappings of one file, one list per copy: each load maps the file's first page (offset 0) once, and dlmopen
    /// loads a library again for each namespace, often right below the copy before. A view of the file without code
    /// beside a copy with code (a program that maps an object to read it, as libbacktrace does) is no copy.
    /// </summary>
    private static IEnumerable<List<MemoryMapping>> Copies(IEnumerable<MemoryMapping> mappingsOfAFile)
    {
        var copies = new List<List<MemoryMapping>>();
        foreach (var mapping in mappingsOfAFile.OrderBy(m => m.Start))
        {
            if (mapping.FileOffset == 0 || copies.Count == 0)
            {
                copies.Add([]);
            }

            copies[^1].Add(mapping);
        }

        var loaded = copies.Where(c => c.Any(m => m.IsExecutable)).ToList();
        return loaded.Count > 0 ? loaded : copies;
    }

    private static (string Path, ulong Start, ulong Inode) Key(LoadedModule module) => (module.Path, module.Start, module.Mappings[0].Inode);

    /// <summary>
    /// Whether a file mapping begins with the ELF magic, read from the process (4 bytes, where
    /// parsing would read the whole file). One that cannot be read there is left to the parse.
    /// </summary>
    private static bool StartsLikeElf(RemoteMemory memory, MemoryMapping first)
    {
        Span<byte> magic = stackalloc byte[4];
        try
        {
            memory.Read(first.Start, magic);
        }
        catch (Exception e) when (e is RemoteMemoryException or ErrnoException)
        {
            return true;
        }

        return magic.SequenceEqual("\u007fELF"u8);
    }

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

    private static string ReadExecutablePath(int pid, string directory)
    {
        try
        {
            return new FileInfo($"{directory}/exe").LinkTarget ?? "";
        }
        catch (IOException)
        {
            throw new TargetGoneException($"no process with pid {pid}");
        }
    }
}
