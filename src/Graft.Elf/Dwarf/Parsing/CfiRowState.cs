namespace Graft.Elf.Dwarf.Parsing;

/// <summary>The row being built by <see cref="CfiInterpreter"/>: the CFA rule, the register rules, the rules
/// the CIE set up (for DW_CFA_restore) and the DW_CFA_remember_state stack. Mutators return false,
/// "the pc has not been passed", so the interpreter's dispatch can return their result directly.</summary>
internal sealed class CfiRowState(string where)
{
    private const int MaxRememberDepth = 256;

    private readonly Stack<(CfaRule? Cfa, Dictionary<int, RegisterRule> Rules)> _remembered = new();
    private CfaRule? _cfa;
    private Dictionary<int, RegisterRule> _rules = [];
    private Dictionary<int, RegisterRule>? _initialRules;

    /// <summary>Keeps the rules the CIE's initial instructions set, which DW_CFA_restore returns to.</summary>
    public void EndOfCie()
    {
        _initialRules = new Dictionary<int, RegisterRule>(_rules);
        _remembered.Clear();
    }

    public CfiRow ToRow() => new(_cfa ?? throw Error("defines no CFA rule"), _rules);

    public bool Set(int register, RegisterRule rule)
    {
        _rules[register] = rule;
        return false;
    }

    public bool Restore(int register)
    {
        if (_initialRules is not null && _initialRules.TryGetValue(register, out RegisterRule? initial))
        {
            _rules[register] = initial;
        }
        else
        {
            _rules.Remove(register);
        }

        return false;
    }

    public bool DefineCfa(CfaRule rule)
    {
        _cfa = rule;
        return false;
    }

    public CfaRule.RegisterOffset CurrentRegisterCfa(string instruction)
    {
        return _cfa as CfaRule.RegisterOffset
            ?? throw Error($"uses {instruction} while the CFA is {(_cfa is null ? "not yet defined" : "an expression")}");
    }

    // The CFA rule is part of the remembered state, as in libgcc and GCC's epilogue CFI which relies on it.
    public bool Remember()
    {
        if (_remembered.Count >= MaxRememberDepth)
        {
            throw Error($"nests DW_CFA_remember_state deeper than {MaxRememberDepth}");
        }

        _remembered.Push((_cfa, new Dictionary<int, RegisterRule>(_rules)));
        return false;
    }

    public bool RestoreRemembered()
    {
        if (!_remembered.TryPop(out (CfaRule? Cfa, Dictionary<int, RegisterRule> Rules) state))
        {
            throw Error("uses DW_CFA_restore_state with nothing remembered");
        }

        (_cfa, _rules) = state;
        return false;
    }

    private ElfFormatException Error(string problem) => new($"{where} {problem}");
}
