namespace Graft.Elf.Dwarf;

/// <summary>One row of the CFI table: the CFA rule and the register rules in force at a pc.</summary>
public sealed class CfiRow
{
    private readonly IReadOnlyDictionary<int, RegisterRule> _rules;

    internal CfiRow(CfaRule cfa, IReadOnlyDictionary<int, RegisterRule> rules)
    {
        Cfa = cfa;
        _rules = rules;
    }

    public CfaRule Cfa { get; }

    /// <summary>The rules the CIE and FDE programs set explicitly, by DWARF register number.</summary>
    public IReadOnlyDictionary<int, RegisterRule> ExplicitRules => _rules;

    /// <summary>The rule for a register. A register the programs never mention gets
    /// <see cref="RegisterRule.SameValue"/>: DWARF leaves the default to the ABI, and on x86-64 the compilers
    /// describe every callee-saved register they touch, so an unmentioned one still holds the caller's value.
    /// The return-address column (16) is no exception: with no rule it is also "same value" per DWARF,
    /// and the unwinder must treat that as it would for any other register (GCC's CIEs always set it).</summary>
    public RegisterRule GetRule(int dwarfRegister)
    {
        return _rules.TryGetValue(dwarfRegister, out RegisterRule? rule) ? rule : RegisterRule.SameValue;
    }
}
