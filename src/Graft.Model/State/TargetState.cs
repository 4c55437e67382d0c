using System.Text.Json.Serialization;
using Graft.Model.Patches;

namespace Graft.Model.State;

/// <summary>
/// Everything Graft has done to one process, kept inside that process (docs/ARCHITECTURE.md, invariant 5), so
/// that any later graft process can list, continue or undo it.
/// </summary>
public sealed record TargetState(int Version, IReadOnlyList<AppliedPatch> Patches, IReadOnlyList<SlotPage> SlotPages)
{
    public const int CurrentVersion = 3;

    public static TargetState Empty { get; } = new(CurrentVersion, [], []);

    /// <summary>
    /// Patches reverted or replaced whose image stays loaded, as the kernel keeps a disabled
    /// livepatch's module: the program may still hold pointers into them (a string one of their
    /// functions returned, a callback they registered, their static data). No function leads to
    /// them (their Functions are empty). Applying the same build again reuses the image; only
    /// an explicit unload (graft unload) takes it away.
    /// </summary>
    public IReadOnlyList<AppliedPatch> Disabled { get; init; } = [];

    public AppliedPatch? FindPatch(string name) => Patches.FirstOrDefault(p => p.Name == name);

    /// <summary>This state with <paramref name="patches"/> moved from the applied ones to the disabled ones.</summary>
    public TargetState Disable(IReadOnlyCollection<AppliedPatch> patches) => this with
    {
        Patches = [.. Patches.Except(patches)],
        Disabled = [.. Disabled, .. patches.Select(p => p with { Phase = PatchPhase.Patched, Functions = [] })],
    };

    /// <summary>The patch whose transition is in flight, if any: there is at most one, as in the kernel.</summary>
    public AppliedPatch? InTransition => Patches.FirstOrDefault(p => p.Phase is PatchPhase.Patching or PatchPhase.Unpatching);

    public TargetState Replace(AppliedPatch old, AppliedPatch updated) =>
        this with { Patches = [.. Patches.Select(p => p == old ? updated : p)] };

    public IEnumerable<ulong> UsedSlots => Patches.SelectMany(p => p.Functions).Select(f => f.Slot);

    /// <summary>This state without the slot pages that no function of any patch uses, and those pages.</summary>
    public SlotPagesPruned PruneSlotPages()
    {
        var used = UsedSlots.ToList();
        var unused = SlotPages.Where(page => !used.Any(slot => slot >= page.Address && slot < page.Address + page.Size)).ToList();
        return new(this with { SlotPages = [.. SlotPages.Except(unused)] }, unused);
    }
}

/// <summary>
/// Where a patch is in its life: loading until its transition starts, then patching (threads
/// switch one by one), patched, and unpatching on the way out. Stop-the-world goes from loading
/// to patched in one step.
/// </summary>
public enum PatchPhase
{
    /// <summary>Being loaded by a graft that has not switched to it yet; left behind if that graft was killed.</summary>
    [JsonStringEnumMemberName("loading")]
    Loading,

    /// <summary>In a per-thread transition towards patched; the thread table says who has switched.</summary>
    [JsonStringEnumMemberName("patching")]
    Patching,

    [JsonStringEnumMemberName("patched")]
    Patched,

    /// <summary>In a per-thread transition towards unpatched (a revert, or a reversed apply).</summary>
    [JsonStringEnumMemberName("unpatching")]
    Unpatching,
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
    IReadOnlyList<PatchedObject> Objects)
{
    /// <summary>A cumulative patch: it replaces every patch applied before it.</summary>
    public bool Replace { get; init; }

    /// <summary>
    /// The path the target's dynamic linker loaded the patch by: /proc/&lt;pid&gt;/fd/&lt;fd&gt;, a sealed
    /// memfd in the target holding the bytes graft checked (<see cref="Path"/> is where they came from).
    /// </summary>
    public string? LoadedFrom { get; init; }

    /// <summary>
    /// Some threads were switched by --force rather than found clean: code of the patch may still
    /// run on them, so a revert never unloads it (the kernel keeps a forced patch's module).
    /// </summary>
    public bool Forced { get; init; }
}

/// <summary>
/// An object of the target a patch names, as found when the patch was applied: its path, or
/// null when the process had not loaded it (its functions are then left alone and its
/// callbacks never run). The flags keep the kernel's callback symmetry across graft processes:
/// post_unpatch runs only after pre_patch ran, pre_unpatch only after post_patch ran.
/// </summary>
public sealed record PatchedObject(string? Name, string? Path, string? BuildId)
{
    public bool IsLoaded => Path is not null;

    /// <summary>
    /// Where the copy patched starts (its first mapping): a library dlmopen'ed into another namespace is mapped
    /// again from the same path, and only one copy is patched. 0 in a record an older graft wrote: any copy.
    /// </summary>
    public ulong Start { get; init; }

    /// <summary>Its struct graft_object in the loaded patch, the argument of its callbacks.</summary>
    public ulong Descriptor { get; init; }

    /// <summary>Its callbacks in the loaded patch (0 = none).</summary>
    public CallbackSet Callbacks { get; init; } = new(0, 0, 0, 0);

    public bool PrePatchDone { get; init; }

    public bool PostPatchDone { get; init; }

    /// <summary>
    /// Why the library, loaded while the patch was applied, was left without any patch (a
    /// pre_patch callback or the resolution failed); cleared when it is unloaded.
    /// </summary>
    public string? Refused { get; init; }

    public string DisplayName => Name ?? "main";
}

/// <summary>
/// One redirected function: its entry window's original bytes (to put back), the slot it jumps
/// to, and the replacement the slot points at. During a transition the entry jumps to the
/// slot's dispatcher instead, which picks old or new code per thread.
/// </summary>
/// <remarks>
/// Patches on one function stack in the order they were applied (the kernel's func_stack): the
/// newest one's entry jump wins, and its dispatcher's old code is the function below it. A nop
/// (<see cref="IsNop"/>) is how a cumulative patch sends a function that only the patches it
/// replaces touched back to its original code: its new function is its slot's copy of the
/// original. Nops live only while that transition is in flight, as in the kernel.
/// </remarks>
public sealed record PatchedFunction(
    string Name,
    ulong Sympos,
    string ObjectPath,
    ulong Address,
    ulong Size,
    ulong PatchAddress,
    string OriginalBytes,
    ulong Slot,
    ulong NewFunction)
{
    /// <summary>Size of the replacement's symbol, 0 if unknown (a stripped patch).</summary>
    public ulong NewSize { get; init; }

    public bool IsNop { get; init; }

    /// <summary>How calls reach the replacement; null for a nop, and in records of graft versions before it was decided.</summary>
    public EntryPath? Entry { get; init; }

    /// <summary>Parts of the original placed apart from it (foo.cold), which count as the function for the stack check.</summary>
    public IReadOnlyList<FunctionPart> Parts { get; init; } = [];
}

/// <summary>A part of a function the compiler placed apart from its entry, such as gcc's <c>foo.cold</c>.</summary>
public sealed record FunctionPart(string Name, ulong Start, ulong End);

/// <summary>
/// How calls reach a replacement so that callers keep what the original promised them (docs/ARCHITECTURE.md,
/// "What callers rely on"): straight, or (<see cref="Preserving"/>) through graft.h's register-preserving entry,
/// which puts back <see cref="Kept"/> after the call, aligns the stack and copies <see cref="StackArgumentBytes"/>
/// of stack-passed arguments. <see cref="Reason"/> says why, in words.
/// </summary>
public sealed record EntryPath(bool Preserving, string Reason, string Kept, int StackArgumentBytes);

/// <summary>A page of slots Graft mapped near an object, within reach of a rel32 jump.</summary>
public sealed record SlotPage(ulong Address, ulong Size, string NearObject);
