using Graft.Elf;
using Graft.Linux.Inspection;
using Graft.Model.Patches;
using Graft.Model.State;

namespace Graft.Patching.Operations;

/// <summary>
/// The processes of this host an operation by object reaches (graft apply --all or --object,
/// revert --all, list --all), chosen from /proc without attaching to any: the memory map says
/// which files a process maps, and the file's build-id whether it is the code a patch was built for.
/// </summary>
public static class HostTargets
{
    /// <summary>
    /// The processes that run the code <paramref name="patch"/> changes: those that map the file
    /// <paramref name="objectPath"/> (same device and inode) when given, else those that map one of
    /// its objects with the build-id the patch pins. Bad input is refused before any process is touched.
    /// </summary>
    public static HostScan ForPatch(PatchDefinition patch, string? objectPath)
    {
        var runs = RunningCodeOf(patch, objectPath);
        var scan = HostProcesses.Scan();
        return scan with { Processes = [.. scan.Processes.Where(runs)] };
    }

    /// <summary>Whether a process runs the code <paramref name="patch"/> changes, as <see cref="ForPatch"/> chooses; bad input is refused here.</summary>
    public static Func<HostProcess, bool> RunningCodeOf(PatchDefinition patch, string? objectPath) =>
        objectPath is null ? ByBuildId(patch) : ByFile(patch, objectPath);

    /// <summary>
    /// The build-ids of the objects <paramref name="patch"/> is for, as <see cref="ForPatch"/>
    /// chooses them: the file <paramref name="objectPath"/>'s own when given, else those the patch pins.
    /// </summary>
    public static IReadOnlyList<string> BuildIdsOf(PatchDefinition patch, string? objectPath)
    {
        // Refuses what ForPatch refuses: an unpinned patch without --object, a file the patch is not for.
        _ = RunningCodeOf(patch, objectPath);
        var ids = objectPath is null ? patch.Objects.Select(o => o.BuildId) : [ElfFile.Load(objectPath).BuildId];
        return ids.OfType<string>().Select(id => id.ToLowerInvariant()).Distinct().ToList() is { Count: > 0 } found
            ? found
            : throw Refuse($"{objectPath} has no build-id, by which graft would know the processes that start with it");
    }

    /// <summary>
    /// The build-ids of <see cref="BuildIdsOf"/> by which a process that does not map them yet may
    /// need the patch later, when it loads one (dlopen): those of a patch for libraries alone. A
    /// patch that also changes an executable is for the processes of that executable, which get it
    /// when they start, pending for a library they load later.
    /// </summary>
    public static IReadOnlyList<string> LoadableBuildIdsOf(PatchDefinition patch, string? objectPath)
    {
        if (objectPath is null)
        {
            return patch.Objects.Any(o => o.Name is null)
                ? []
                : [.. patch.Objects.Select(o => o.BuildId).OfType<string>().Select(id => id.ToLowerInvariant()).Distinct()];
        }

        var elf = LoadObject(objectPath);
        return ObjectFor(patch, objectPath, elf).Name is null || elf.BuildId is null ? [] : [elf.BuildId.ToLowerInvariant()];
    }

    /// <summary>The processes whose state record holds the patch <paramref name="name"/>, and that map <paramref name="objectPath"/> when given.</summary>
    public static HostScan WithPatch(string name, string? objectPath)
    {
        var file = objectPath is null ? (FileIdentity?)null : Identity(objectPath);
        var scan = WithState();
        return scan with { Processes = [.. scan.Processes.Where(p => (file is null || p.Maps(file.Value)) && Holds(p, name))] };
    }

    /// <summary>The processes with a graft state mapping, found from the text of their memory maps alone.</summary>
    public static HostScan WithState()
    {
        var scan = HostProcesses.Scan();
        return scan with { Processes = [.. scan.Processes.Where(HasState)] };
    }

    /// <summary>Whether the process has a graft state mapping (maps names it): the only ones with patches.</summary>
    public static bool HasState(HostProcess process) => process.MapsPathStartingWith($"/memfd:{StateLayout.MappingName}");

    /// <summary>Whether the process's record holds the patch <paramref name="name"/> (in <paramref name="phase"/> if given), read without stopping it.</summary>
    public static bool Holds(HostProcess process, string name, PatchPhase? phase = null)
    {
        if (!HasState(process))
        {
            return false;
        }

        try
        {
            return Patcher.List(process.Pid).FindPatch(name) is { } patch && (phase is null || patch.Phase == phase);
        }
        catch (GraftException)
        {
            // Gone, or a record graft cannot read: the operation on it would say why, and there is none to run.
            return false;
        }
    }

    private static Func<HostProcess, bool> ByFile(PatchDefinition patch, string path)
    {
        var file = Identity(path);
        return ObjectFor(patch, path, LoadObject(path)).Name is null ? p => p.Executable == file : p => p.Maps(file);
    }

    private static ElfFile LoadObject(string path)
    {
        try
        {
            return ElfFile.Load(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
        {
            throw Refuse($"cannot read {path} as an ELF object: {e.Message}");
        }
    }

    /// <summary>The object of <paramref name="patch"/> the file <paramref name="path"/> is: a library it names, else its executable; refused if the build differs.</summary>
    private static ObjectDefinition ObjectFor(PatchDefinition patch, string path, ElfFile elf)
    {
        var name = Path.GetFileName(path);
        var obj = patch.Objects.FirstOrDefault(o => o.Name is not null && (o.Name == name || o.Name == path || o.Name == elf.Soname))
            ?? patch.Objects.FirstOrDefault(o => o.Name is null)
            ?? throw Refuse($"patch '{patch.Name}' names no object that {path} is (it names {string.Join(", ", patch.Objects.Select(o => o.DisplayName))})");
        return obj.BuildId is not null && !SameBuild(obj.BuildId, elf.BuildId)
            ? throw Refuse($"build-id mismatch for {path}: the patch requires {obj.BuildId}, the file has {elf.BuildId ?? "none"}")
            : obj;
    }

    private static Func<HostProcess, bool> ByBuildId(PatchDefinition patch)
    {
        var pinned = patch.Objects.Where(o => o.BuildId is not null).ToList();
        if (pinned.Count == 0)
        {
            throw Refuse($"patch '{patch.Name}' pins no build-id, so --all cannot tell which processes run the code it was built for: " +
                "name the file with --object <path>, or pin the build-id in the patch (.build_id)");
        }

        var files = new ElfFileCache();
        return process => pinned.Any(o => MapsBuildOf(process, o, files));
    }

    /// <summary>
    /// Whether the process maps the object <paramref name="obj"/> names, built as it pins. Only
    /// mappings whose file could be that object are read (the executable, or a file whose name
    /// starts as the library's does), each file once.
    /// </summary>
    private static bool MapsBuildOf(HostProcess process, ObjectDefinition obj, ElfFileCache files)
    {
        Func<MemoryMapping, bool> could;
        if (obj.Name is null)
        {
            // An executable that cannot be reached any more: the process is exiting.
            if (process.Executable is not { } executable)
            {
                return false;
            }

            could = executable.IsMappedBy;
        }
        else
        {
            var stem = Path.GetFileName(obj.Name).Split(".so")[0];
            could = m => Path.GetFileName(m.Path).StartsWith(stem, StringComparison.Ordinal);
        }

        foreach (var first in process.Mappings.Where(m => m.IsFile && m.FileOffset == 0))
        {
            if (!could(first))
            {
                continue;
            }

            try
            {
                var elf = process.ReadMapped(first, files);
                if (SameBuild(obj.BuildId!, elf.BuildId) && (obj.Name is null || obj.Name == Path.GetFileName(first.Path) || obj.Name == first.Path || obj.Name == elf.Soname))
                {
                    return true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ElfFormatException)
            {
                // Gone or not an object: not this one.
            }
        }

        return false;
    }

    private static FileIdentity Identity(string path)
    {
        try
        {
            return FileIdentity.Of(path);
        }
        catch (IOException e)
        {
            throw Refuse($"cannot find the object {path}: {e.Message}");
        }
    }

    private static bool SameBuild(string pinned, string? actual) => string.Equals(pinned, actual, StringComparison.OrdinalIgnoreCase);

    private static GraftException Refuse(string message) => new(GraftFailure.Refused, message);
}
