namespace Graft.Elf;

public enum ElfKind
{
    /// <summary>None of the kinds below (core files, ...).</summary>
    Other,

    /// <summary>ET_REL: an object file from the compiler, not yet linked.</summary>
    Relocatable,

    /// <summary>ET_EXEC: a position-dependent executable.</summary>
    Executable,

    /// <summary>ET_DYN: a shared object or a position-independent executable.</summary>
    SharedObject,
}
