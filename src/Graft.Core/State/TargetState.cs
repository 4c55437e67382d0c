using System.Text.Json.Serialization;

namespace Graft.Core.State;

/// <summary>
/// Everything Graft has done to one process, kept inside that process (DESIGN invariant 5), so
/// that any later graft process can list, continue or undo it.
/// </summary>
public sealed record TargetState(int Version, IReadOnlyList<AppliedPatch> Patches, IReadOnlyList<SlotPage> SlotPages)
{
    public const int CurrentVersion = 1;

    public static TargetState Empty { get; } = new(CurrentVersion, [], []);

    public AppliedPatch? FindPatch(string name) => Patches.FirstOrDefault(p => p.Name == name);

    /// <summary>The patch that currently redirects the function at this address, if any.</summary>
    public AppliedPatch? PatchOf(ulong functionAddress) =>
        Patches.FirstOrDefault(p => p.Functions.Any(f => f.Address == functionAddress));

    public IEnumerable<ulong> UsedSlots => Patches.SelectMany(p => p.Functions).Select(f => f.Slot);

    /// <summary>The slot pages that no function of any patch uses.</summary>
    public IReadOnlyList<SlotPage> UnusedSlotPages()
    {
        var used = UsedSlots.ToList();
        return [.. SlotPages.Where(page => !used.Any(slot => slot >= page.Address && slot < page.Address + page.Size))];
    }
}

/// <summary>Where a patch is in its life: loading until the switch, patched after it.</summary>
public enum PatchPhase
{
    /// <summary>Being loaded by a graft that has not switched to it yet; left behind if that graft was killed.</summary>
    [JsonStringEnumMemberName("loading")]
    Loading,

    [JsonStringEnumMemberName("patched")]
    Patched,
}

/// <summary>A patch loaded into the target (its dlopen handle and where its image lies) and what it redirects.</summary>
public sealed record AppliedPatch(
    PatchPhase Phase,
    string Name,
    string Path,
    string? BuildId,
    ulong Handle,
    ulong ImageStart,
    ulong ImageEnd,
    DateTimeOffset AppliedAt,
    IReadOnlyList<PatchedFunction> Functions,
    IReadOnlyList<PatchedObject> Objects);

/// <summary>An object of the target a patch touches, as found when the patch was applied.</summary>
public sealed record PatchedObject(string? Name, string Path, string? BuildId);

/// <summary>
/// One redirected function: its entry window's original bytes (to put back), the slot it jumps
/// to, and the replacement the slot points at.
/// </summary>
public sealed record PatchedFunction(
    string Name,
    ulong Sympos,
    string ObjectPath,
    ulong Address,
    ulong Size,
    ulong PatchAddress,
    string OriginalBytes,
    ulong Slot,
    ulong NewFunction);

/// <summary>A page of slots Graft mapped near an object, within reach of a rel32 jump.</summary>
public sealed record SlotPage(ulong Address, ulong Size, string NearObject);
