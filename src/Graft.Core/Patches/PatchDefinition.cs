namespace Graft.Core.Patches;

/// <summary>What a patch file says it does, read from its descriptor without loading it (the kernel's klp_patch).</summary>
public sealed record PatchDefinition(
    string Path,
    string Name,
    string? BuildId,
    IReadOnlyList<ObjectDefinition> Objects,
    IReadOnlyList<LocalSymbolReference> LocalSymbols);

/// <summary>One object the patch changes (klp_object): NULL name = the main executable.</summary>
public sealed record ObjectDefinition(string? Name, string? BuildId, IReadOnlyList<FunctionDefinition> Functions)
{
    public string DisplayName => Name ?? "(main executable)";
}

/// <summary>One replacement (klp_func); <see cref="NewFunction"/> is an address in the patch file.</summary>
public sealed record FunctionDefinition(string OldName, ulong OldSympos, ulong NewFunction);

/// <summary>A reference from patch code to a local symbol of the target, and the patch's GOT slots that hold it.</summary>
public sealed record LocalSymbolReference(string Name, string? Object, ulong Sympos, IReadOnlyList<GotSlot> Slots);

/// <summary>A word of the patch image (file address) the dynamic linker would have filled with the symbol's address plus the addend.</summary>
public sealed record GotSlot(ulong Offset, long Addend);
