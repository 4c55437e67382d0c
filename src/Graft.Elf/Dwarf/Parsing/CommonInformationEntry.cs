namespace Graft.Elf.Dwarf.Parsing;

/// <summary>A parsed CIE: what its FDEs share.</summary>
internal sealed record CommonInformationEntry(
    int SectionOffset,
    ulong CodeAlignmentFactor,
    long DataAlignmentFactor,
    int ReturnAddressRegister,
    byte FdeEncoding,
    bool HasAugmentationData,
    bool IsSignalFrame,
    ReadOnlyMemory<byte> InitialInstructions,
    ulong InitialInstructionsAddress);
