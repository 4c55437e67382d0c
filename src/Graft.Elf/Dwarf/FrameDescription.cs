using Graft.Elf.Dwarf.Parsing;

namespace Graft.Elf.Dwarf;

/// <summary>One FDE of .eh_frame, with what it inherits from its CIE.</summary>
public sealed class FrameDescription
{
    private readonly CommonInformationEntry _cie;
    private readonly ReadOnlyMemory<byte> _instructions;
    private readonly ulong _instructionsAddress;

    internal FrameDescription(
        CommonInformationEntry cie,
        int sectionOffset,
        ulong initialLocation,
        ulong addressRange,
        ReadOnlyMemory<byte> instructions,
        ulong instructionsAddress)
    {
        _cie = cie;
        SectionOffset = sectionOffset;
        InitialLocation = initialLocation;
        AddressRange = addressRange;
        _instructions = instructions;
        _instructionsAddress = instructionsAddress;
    }

    /// <summary>Offset of the FDE in .eh_frame (the first column of readelf's listing).</summary>
    public int SectionOffset { get; }

    public ulong InitialLocation { get; }

    public ulong AddressRange { get; }

    public ulong EndLocation => InitialLocation + AddressRange;

    /// <summary>The CIE's augmentation has 'S': the frame is a signal trampoline, whose caller's pc is
    /// exact (not a return address), so the unwinder must not subtract one before looking it up.</summary>
    public bool IsSignalFrame => _cie.IsSignalFrame;

    public int ReturnAddressRegister => _cie.ReturnAddressRegister;

    public ulong CodeAlignmentFactor => _cie.CodeAlignmentFactor;

    public long DataAlignmentFactor => _cie.DataAlignmentFactor;

    public bool Contains(ulong pc) => pc >= InitialLocation && pc - InitialLocation < AddressRange;

    /// <summary>The row in force at <paramref name="pc"/>: the CIE's initial instructions, then the FDE's
    /// instructions up to <paramref name="pc"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">pc is outside this FDE.</exception>
    /// <exception cref="ElfFormatException">the CFI program is malformed.</exception>
    public CfiRow ComputeRow(ulong pc)
    {
        if (!Contains(pc))
        {
            throw new ArgumentOutOfRangeException(
                nameof(pc), $"pc 0x{pc:x} is outside the FDE for 0x{InitialLocation:x}..0x{EndLocation:x}");
        }

        var interpreter = new CfiInterpreter(_cie, SectionOffset);
        return interpreter.Run(_instructions, _instructionsAddress, InitialLocation, pc);
    }

    public override string ToString() => $"FDE at .eh_frame+0x{SectionOffset:x} for 0x{InitialLocation:x}..0x{EndLocation:x}";
}
