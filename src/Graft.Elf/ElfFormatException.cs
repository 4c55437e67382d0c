namespace Graft.Elf;

/// <summary>The bytes given to the ELF or DWARF reader are not a well-formed object of the kind we support.</summary>
public sealed class ElfFormatException : Exception
{
    public ElfFormatException(string message)
        : base(message)
    {
    }

    public ElfFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
