namespace Graft.Elf.Dwarf;

/// <summary>How to recover a register's value in the caller's frame (DWARF 5, 6.4.1).</summary>
public abstract record RegisterRule
{
    public static readonly RegisterRule Undefined = new UndefinedRule();
    public static readonly RegisterRule SameValue = new SameValueRule();

    private RegisterRule()
    {
    }

    /// <summary>The register's value cannot be recovered (e.g. the return address of the outermost frame).</summary>
    public sealed record UndefinedRule : RegisterRule;

    /// <summary>The caller's value is the register's current value.</summary>
    public sealed record SameValueRule : RegisterRule;

    /// <summary>Saved in memory at CFA + <paramref name="CfaOffset"/>.</summary>
    public sealed record Offset(long CfaOffset) : RegisterRule;

    /// <summary>The value itself is CFA + <paramref name="CfaOffset"/>.</summary>
    public sealed record ValOffset(long CfaOffset) : RegisterRule;

    /// <summary>Saved in another register.</summary>
    public sealed record Register(int DwarfRegister) : RegisterRule;

    /// <summary>Saved in memory at the address the expression computes, with the CFA pushed first.</summary>
    public sealed record Expression(ReadOnlyMemory<byte> Bytes) : RegisterRule;

    /// <summary>The value is what the expression computes, with the CFA pushed first.</summary>
    public sealed record ValExpression(ReadOnlyMemory<byte> Bytes) : RegisterRule;
}
