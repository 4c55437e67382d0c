using System.Text.Json;
using Graft.Patching;
using Graft.Patching.Audit;
using Graft.Patching.Operations;
using Graft.Patching.Service;

namespace Graft.Daemon;

/// <summary>
/// The patches enabled host-wide (graft enable, graft disable): kept under graftd's state directory
/// (enabled.json, and a copy of each patch file under patches/, so that a patch rebuilt or deleted
/// where the operator built it is still the one enabled), read again when graftd starts. Every
/// change is written atomically (<see cref="AtomicFile"/>), then handed to the exec hook.
/// </summary>
internal sealed class HostPatchList
{
    private readonly string listFile;
    private readonly string patchDirectory;
    private readonly ExecHook hook;
    private readonly Lock gate = new();
    private readonly List<EnabledPatch> entries;

    private HostPatchList(string stateDirectory, ExecHook hook)
    {
        listFile = Path.Combine(stateDirectory, "enabled.json");
        patchDirectory = Path.Combine(stateDirectory, "patches");
        this.hook = hook;
        Directory.CreateDirectory(patchDirectory);
        entries = File.Exists(listFile)
            ? JsonSerializer.Deserialize(File.ReadAllText(listFile), ServiceJson.Default.ListEnabledPatch) ?? []
            : [];
        entries = [.. entries.Select(e => e.LoadableBuildIds is null ? e with { LoadableBuildIds = LoadableBuildIdsOf(e) } : e)];
    }

    // A list an older graftd wrote does not say which objects are libraries: read from the copy.
    private static IReadOnlyList<string> LoadableBuildIdsOf(EnabledPatch entry)
    {
        try
        {
            return HostTargets.LoadableBuildIdsOf(Patcher.ReadPatch(entry.File), entry.Object);
        }
        catch (GraftException)
        {
            // Its copy is unreadable now: HostWideApply journals why when it comes to it.
            return [];
        }
    }

    /// <summary>The list as the state directory holds it (empty the first time), with the exec hook listed for it.</summary>
    /// <exception cref="IOException">The state directory cannot be read or written.</exception>
    public static HostPatchList Load(string stateDirectory, ExecHook hook)
    {
        var list = new HostPatchList(stateDirectory, hook);
        hook.Update(list.Entries);
        return list;
    }

    public IReadOnlyList<EnabledPatch> Entries
    {
        get
        {
            lock (gate)
            {
                return [.. entries];
            }
        }
    }

    /// <summary>
    /// Records <paramref name="file"/> host-wide; the same file enabled again changes nothing. A
    /// patch that --all (or --object) would refuse is refused here, and the list stays as it was.
    /// </summary>
    public EnabledPatch Enable(string file, string? objectPath)
    {
        var patch = Patcher.ReadPatch(file);
        var buildIds = HostTargets.BuildIdsOf(patch, objectPath);
        hook.RequireLibrary();
        var sha256 = patch.Sha256;
        lock (gate)
        {
            if (entries.FirstOrDefault(e => e.Name == patch.Name) is { } enabled)
            {
                return enabled.Sha256 == sha256 && enabled.Object == objectPath
                    ? enabled
                    : throw new GraftException(GraftFailure.Refused,
                        $"patch '{patch.Name}' is enabled host-wide already, from another file or for another object; graft disable {patch.Name} first");
            }

            var copy = Path.Combine(patchDirectory, $"{sha256}.so");
            AtomicFile.Copy(file, copy);
            var entry = new EnabledPatch(patch.Name, copy, objectPath, buildIds, sha256, DateTimeOffset.UtcNow,
                HostTargets.LoadableBuildIdsOf(patch, objectPath), AuditRecord.Signed(patch.Signer));
            Change(() => entries.Add(entry));
            return entry;
        }
    }

    /// <summary>Takes the patch <paramref name="name"/> off the list; processes keep it until it is reverted from them.</summary>
    public EnabledPatch Disable(string name)
    {
        lock (gate)
        {
            var entry = entries.FirstOrDefault(e => e.Name == name)
                ?? throw new GraftException(GraftFailure.Refused, $"no patch '{name}' is enabled host-wide (graft list --all shows the list)");
            Change(() => entries.Remove(entry));
            // Processes that loaded it keep their mapping of the copy: removing its name is safe.
            File.Delete(entry.File);
            return entry;
        }
    }

    /// <summary>Changes the list, writes it, lists the hook for it; a failure to write puts the list back as it was.</summary>
    private void Change(Action change)
    {
        var before = entries.ToList();
        change();
        try
        {
            AtomicFile.Write(listFile, JsonSerializer.Serialize(entries, ServiceJson.Default.ListEnabledPatch));
            hook.Update(entries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            entries.Clear();
            entries.AddRange(before);
            throw new GraftException(GraftFailure.Internal, $"graftd could not write its host-wide list: {e.Message}", e);
        }
    }
}
