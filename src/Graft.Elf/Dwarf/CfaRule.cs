namespace Graft.Elf.Dwarf;

/// <summary>How to compute the Canonical Frame Address of a row.</summary>
public abstract record CfaRule
{
    private CfaRule()
    {
    }

    /// <summary>CFA = value of <paramref name="Register"/> + <paramref name="Offset"/>.</summary>
    public sealed record RegisterOffset(int Register, long Offset) : CfaRule;

    /// <summary>CFA = result of the DWARF expression (evaluated with an empty initial stack).</summary>
    public sealed record Expression(ReadOnlyMemory<byte> Bytes) : CfaRule;
}
