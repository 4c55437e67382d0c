namespace Graft.Elf;

public enum ElfKind
{
    /// <summary>Neither ET_EXEC nor ET_DYN (relocatable objects, core files, ...).</summary>
    Other,

    /// <summary>ET_EXEC: a position-dependent executable.</summary>
    Executable,

    /// <summary>ET_DYN: a shared object or a position-independent executable.</summary>
    SharedObject,
}
