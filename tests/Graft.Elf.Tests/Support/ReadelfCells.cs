using Graft.Elf.Dwarf;

namespace Graft.Elf.Tests.Support;

/// <summary>Writes our CFI rules the way readelf's frames-interp table does, so rows compare as text.</summary>
internal static class ReadelfCells
{
    private static readonly string[] Names =
        ["rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "ra"];

    public static int? RegisterNumber(string column)
    {
        int index = Array.IndexOf(Names, column);
        if (index >= 0)
        {
            return index;
        }

        return column.StartsWith("xmm", StringComparison.Ordinal) && int.TryParse(column.AsSpan(3), out int xmm) && xmm < 16 ? 17 + xmm : null;
    }

    public static string Cfa(CfaRule rule) => rule switch
    {
        CfaRule.RegisterOffset r => $"{Name(r.Register)}{(r.Offset >= 0 ? "+" : string.Empty)}{r.Offset}",
        CfaRule.Expression => "exp",
        _ => throw new ArgumentOutOfRangeException(nameof(rule)),
    };

    /// <summary>readelf shows a register with no rule yet as "u", like an explicit DW_CFA_undefined.</summary>
    public static string Register(CfiRow row, int register)
    {
        if (!row.ExplicitRules.TryGetValue(register, out RegisterRule? rule))
        {
            return "u";
        }

        return rule switch
        {
            RegisterRule.UndefinedRule => "u",
            RegisterRule.SameValueRule => "s",
            RegisterRule.Offset o => $"c{(o.CfaOffset >= 0 ? "+" : string.Empty)}{o.CfaOffset}",
            RegisterRule.ValOffset v => $"v{(v.CfaOffset >= 0 ? "+" : string.Empty)}{v.CfaOffset}",
            RegisterRule.Register r => $"r{r.DwarfRegister} ({Name(r.DwarfRegister)})",
            RegisterRule.Expression => "exp",
            RegisterRule.ValExpression => "vexp",
            _ => throw new ArgumentOutOfRangeException(nameof(register)),
        };
    }

    private static string Name(int register) => register < Names.Length ? Names[register] : $"r{register}";
}
