using System.Text;
using Graft.Elf;
using Graft.Linux.Inspection;
using Graft.Linux.Interop;
using Graft.Linux.Trust;
using Graft.Model.Patches;
using Graft.Model.State;
using Graft.Patching.Target;

namespace Graft.Patching.Loading;

/// <summary>
/// The patch as the target loads it: a sealed memfd inside the target holding exactly the bytes
/// graft checked and parsed, loaded by its /proc path in the target's own view. No path the
/// operator named is resolved again, in graft's mount namespace or the target's, so a symlink
/// flipped or a container's own file at the same path cannot be what runs. The memfd stays open
/// in the target as long as the patch is loaded: its path, which the loader keeps as the
/// object's name, then stays valid for debuggers and for graftd.
/// </summary>
internal static class PatchCopy
{
    /// <summary>The memfd's name, which /proc/&lt;pid&gt;/maps shows: "/memfd:graft-patch:&lt;patch name&gt; (deleted)".</summary>
    public const string MemfdPrefix = "graft-patch:";

    // memfd_create takes names of up to 249 bytes.
    private const int MaxNameBytes = 200;

    /// <summary>Creates the memfd in the target, fills and seals it; returns the path to dlopen.</summary>
    public static string Create(TargetProcess target, StateStore store, int tid, PatchDefinition patch)
    {
        var name = Encoding.UTF8.GetBytes(MemfdPrefix + patch.Name);
        target.Memory.Write(store.Scratch, [.. name.Take(MaxNameBytes), 0]);
        var fd = target.Syscalls.MemfdCreate(tid, store.Scratch, Syscalls.MFD_CLOEXEC | Syscalls.MFD_ALLOW_SEALING, executable: true);
        try
        {
            using (var file = File.OpenHandle($"{ProcDirectory.Of(target.Pid)}/fd/{fd}", FileMode.Open, FileAccess.Write))
            {
                RandomAccess.Write(file, patch.Elf.Image.Span, 0);
            }

            // Sealed, nothing in the target can change the code graft checked.
            target.Syscalls.AddSeals(tid, fd, Syscalls.F_SEAL_SEAL | Syscalls.F_SEAL_SHRINK | Syscalls.F_SEAL_GROW | Syscalls.F_SEAL_WRITE);
        }
        catch
        {
            target.Syscalls.Close(tid, fd);
            throw;
        }

        // /proc/thread-self once the leader has exited (its fd directory is empty then).
        return ProcDirectory.Of(target.Pid) == $"/proc/{target.Pid}"
            ? $"/proc/{PidInItsNamespace(target.Pid)}/fd/{fd}"
            : $"/proc/thread-self/fd/{fd}";
    }

    /// <summary>Closes the target's memfd of a patch loaded from <paramref name="loadedFrom"/>, once the loader let it go.</summary>
    public static void Close(TargetProcess target, int tid, string loadedFrom) =>
        target.Syscalls.Close(tid, DescriptorOf(loadedFrom));

    /// <summary>
    /// The patch file a target has loaded, read back from its memfd (graftd, for a library that
    /// comes later): through the mapping of the patch's image (/proc/PID/map_files), which holds
    /// the memfd whatever the program did with its descriptors (a daemon's closefrom closes it,
    /// and the number may name another file since), else through the descriptor.
    /// </summary>
    public static PatchDefinition ReadLoaded(TargetProcess target, AppliedPatch patch)
    {
        var loadedFrom = patch.LoadedFrom!;
        var mapping = target.Modules.MappingAt(patch.ImageStart);
        var file = mapping is not null && mapping.Path.Contains("/memfd:" + MemfdPrefix, StringComparison.Ordinal)
            ? $"/proc/{target.Pid}/map_files/{mapping.Start:x}-{mapping.End:x}"
            : $"{ProcDirectory.Of(target.Pid)}/fd/{DescriptorOf(loadedFrom)}";
        try
        {
            return PatchFile.Parse(patch.Path, File.ReadAllBytes(file));
        }
        catch (Exception e) when (e is PatchFormatException or IOException or UnauthorizedAccessException)
        {
            throw new GraftException(GraftFailure.Internal, $"cannot read back patch {patch.Path} from process {target.Pid}: {e.Message}", e);
        }
    }

    /// <summary>
    /// A patch an older graft loaded by its path, before patches were loaded from a memfd
    /// (<see cref="AppliedPatch.LoadedFrom"/> null): the file at that path, checked as any patch file is
    /// (<see cref="CheckedFile"/>), must be the image the process mapped then, byte for byte
    /// (<see cref="Verify"/>); the path may hold another file since, whose addresses would be wrong for
    /// the code that runs. Its signature is not verified here (<see cref="Libraries.LibraryEvents"/> says why).
    /// </summary>
    public static PatchDefinition ReadLoadedByPath(TargetProcess target, AppliedPatch patch)
    {
        PatchDefinition definition;
        try
        {
            definition = PatchFile.Parse(patch.Path, CheckedFile.Read(patch.Path, Operations.Patcher.MaxPatchBytes).Bytes);
        }
        catch (Exception e) when (e is PatchFormatException or UntrustedFileException)
        {
            throw new GraftException(GraftFailure.Refused, e.Message, e);
        }

        // struct link_map starts with l_addr, the difference between file and memory addresses.
        Verify(target, definition, target.Memory.ReadUInt64(patch.Handle));
        return definition;
    }

    /// <summary>
    /// After dlopen: the object mapped at <paramref name="image"/> carries the code graft parsed,
    /// byte for byte (executable segments and notes, build-id included, hold no relocations).
    /// </summary>
    public static void Verify(TargetProcess target, PatchDefinition patch, ulong bias)
    {
        foreach (var segment in patch.Elf.Segments.Where(s => s.FileSize > 0
            && (s.Type == ElfSegmentType.Note || (s.Type == ElfSegmentType.Load && s.Flags.HasFlag(ElfSegmentFlags.Execute)))))
        {
            var expected = patch.Elf.Image.Slice((int)segment.Offset, (int)segment.FileSize).Span;
            var mapped = target.Memory.Read(bias + segment.VirtualAddress, (int)segment.FileSize);
            if (!expected.SequenceEqual(mapped))
            {
                throw new GraftException(GraftFailure.Internal,
                    $"the object the dynamic linker of process {target.Pid} mapped for {patch.Path} is not the file graft checked (segment at 0x{segment.VirtualAddress:x} differs)");
            }
        }
    }

    private static int DescriptorOf(string loadedFrom) => int.Parse(loadedFrom[(loadedFrom.LastIndexOf('/') + 1)..]);

    /// <summary>The target's pid as the target itself sees it (the last NSpid), for a /proc path its loader resolves.</summary>
    private static int PidInItsNamespace(int pid)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("NSpid:", StringComparison.Ordinal));
        return line is null ? pid : int.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[^1]);
    }

}
