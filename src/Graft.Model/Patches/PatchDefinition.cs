using Graft.Elf;
using Graft.Model.Signing;

namespace Graft.Model.Patches;

/// <summary>
/// What a patch file says it does, read from its descriptor without loading it (the kernel's
/// klp_patch). <see cref="Replace"/>: a cumulative patch, which replaces every earlier one.
/// </summary>
public sealed record PatchDefinition(
    string Path,
    string Name,
    string? BuildId,
    bool Replace,
    IReadOnlyList<ObjectDefinition> Objects,
    IReadOnlyList<LocalSymbolReference> LocalSymbols)
{
    /// <summary>The patch file, parsed from the bytes graft checked and read once: the image it loads and inspects.</summary>
    public required ElfFile Elf { get; init; }

    /// <summary>graft.h's register-preserving entry (graft_preserve) in the patch file; 0 when it was built without one.</summary>
    public ulong PreserveEntry { get; init; }

    /// <summary>
    /// The SHA-256 of the whole file, its signature included (lowercase hex): what sha256sum prints for it.
    /// Computed from <see cref="Elf"/>'s bytes the first time it is asked for, then kept (<see cref="PatchFile.Sha256Of(ElfFile)"/>).
    /// </summary>
    public string Sha256 => PatchFile.Sha256Of(Elf);

    /// <summary>Whose signature graft verified on the file; null for a patch that carries none.</summary>
    public PatchSigner? Signer { get; init; }
}

/// <summary>
/// One object the patch changes (klp_object): NULL name = the main executable.
/// <see cref="Address"/> is where its struct graft_object lies in the patch file, the argument
/// its callbacks get once the patch is loaded.
/// </summary>
public sealed record ObjectDefinition(string? Name, string? BuildId, IReadOnlyList<FunctionDefinition> Functions, ulong Address, CallbackSet Callbacks)
{
    public string DisplayName => Name ?? "(main executable)";
}

/// <summary>The addresses (in the patch file; 0 = none) of an object's struct graft_callbacks.</summary>
public sealed record CallbackSet(ulong PrePatch, ulong PostPatch, ulong PreUnpatch, ulong PostUnpatch)
{
    public bool IsEmpty => PrePatch == 0 && PostPatch == 0 && PreUnpatch == 0 && PostUnpatch == 0;

    public CallbackSet Relocated(ulong bias) => new(At(PrePatch, bias), At(PostPatch, bias), At(PreUnpatch, bias), At(PostUnpatch, bias));

    private static ulong At(ulong address, ulong bias) => address == 0 ? 0 : address + bias;
}

/// <summary>
/// One replacement (klp_func); <see cref="NewFunction"/> is an address in the patch file and
/// <see cref="NewSize"/> the size of its symbol (0 when the patch has no symbol table).
/// </summary>
public sealed record FunctionDefinition(string OldName, ulong OldSympos, ulong NewFunction, ulong NewSize);

/// <summary>A reference from patch code to a local symbol of the target, and the patch's GOT slots that hold it.</summary>
public sealed record LocalSymbolReference(string Name, string? Object, ulong Sympos, IReadOnlyList<GotSlot> Slots);

/// <summary>A word of the patch image (file address) the dynamic linker would have filled with the symbol's address plus the addend.</summary>
public sealed record GotSlot(ulong Offset, long Addend);
