using Graft.Elf.Parsing;

using static Graft.Elf.Dwarf.Parsing.CfiOpcode;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>Runs a CIE's initial instructions and then an FDE's instructions up to a pc (DWARF 5, 6.4.2).
/// Every instruction consumes at least one byte, so a run is bounded by the program's length.</summary>
internal sealed class CfiInterpreter(CommonInformationEntry cie, int fdeOffset)
{
    /// <summary>Well above any x86-64 DWARF register number (k7 is 125); larger ones mean garbage.</summary>
    public const int MaxRegister = 1023;
    private const int MaxRememberDepth = 256;

    private readonly Stack<(CfaRule? Cfa, Dictionary<int, RegisterRule> Rules)> _remembered = new();
    private readonly string _where = $"CFI program of FDE at .eh_frame+0x{fdeOffset:x}";
    private CfaRule? _cfa;
    private Dictionary<int, RegisterRule> _rules = [];
    private Dictionary<int, RegisterRule>? _initialRules;
    private ulong _location;

    public CfiRow Run(ReadOnlyMemory<byte> instructions, ulong instructionsAddress, ulong initialLocation, ulong pc)
    {
        _location = initialLocation;
        bool passedPc = Execute(cie.InitialInstructions, cie.InitialInstructionsAddress, pc);
        _initialRules = new Dictionary<int, RegisterRule>(_rules);
        _remembered.Clear();
        if (!passedPc)
        {
            Execute(instructions, instructionsAddress, pc);
        }

        return new CfiRow(_cfa ?? throw Error("defines no CFA rule"), _rules);
    }

    /// <returns>true when the location moved past <paramref name="pc"/>, which ends the row in force there.</returns>
    private bool Execute(ReadOnlyMemory<byte> program, ulong programAddress, ulong pc)
    {
        var reader = new ByteReader(program.Span, _where);
        while (!reader.AtEnd)
        {
            byte op = reader.U8();
            int operand = op & OperandMask;
            bool stop = (op & PrimaryMask) switch
            {
                AdvanceLoc => AdvancePast((ulong)operand, pc),
                Offset => Set(operand, new RegisterRule.Offset(Factored(reader.Uleb128()))),
                Restore => RestoreRule(operand),
                _ => ExecuteExtended(op, ref reader, program, programAddress, pc),
            };
            if (stop)
            {
                return true;
            }
        }

        return false;
    }

    private bool ExecuteExtended(byte op, ref ByteReader reader, ReadOnlyMemory<byte> program, ulong programAddress, ulong pc)
    {
        switch (op)
        {
            case Nop:
                return false;
            case SetLoc:
                ulong target = PointerEncoding.Read(ref reader, cie.FdeEncoding, programAddress + (ulong)reader.Position);
                if (target > pc)
                {
                    return true;
                }

                _location = target;
                return false;
            case AdvanceLoc1:
                return AdvancePast(reader.U8(), pc);
            case AdvanceLoc2:
                return AdvancePast(reader.U16(), pc);
            case AdvanceLoc4:
                return AdvancePast(reader.U32(), pc);
            case OffsetExtended:
                return Set(RegisterNumber(ref reader), new RegisterRule.Offset(Factored(reader.Uleb128())));
            case OffsetExtendedSf:
                return Set(RegisterNumber(ref reader), new RegisterRule.Offset(Factored(reader.Sleb128())));
            case GnuNegativeOffsetExtended:
                return Set(RegisterNumber(ref reader), new RegisterRule.Offset(-Factored(reader.Uleb128())));
            case ValOffset:
                return Set(RegisterNumber(ref reader), new RegisterRule.ValOffset(Factored(reader.Uleb128())));
            case ValOffsetSf:
                return Set(RegisterNumber(ref reader), new RegisterRule.ValOffset(Factored(reader.Sleb128())));
            case RestoreExtended:
                return RestoreRule(RegisterNumber(ref reader));
            case Undefined:
                return Set(RegisterNumber(ref reader), RegisterRule.Undefined);
            case SameValue:
                return Set(RegisterNumber(ref reader), RegisterRule.SameValue);
            case Register:
                int saved = RegisterNumber(ref reader);
                return Set(saved, new RegisterRule.Register(RegisterNumber(ref reader)));
            case Expression:
                int expressionRegister = RegisterNumber(ref reader);
                return Set(expressionRegister, new RegisterRule.Expression(Block(ref reader, program)));
            case ValExpression:
                int valueRegister = RegisterNumber(ref reader);
                return Set(valueRegister, new RegisterRule.ValExpression(Block(ref reader, program)));
            case DefCfa:
                int cfaRegister = RegisterNumber(ref reader);
                return DefineCfa(new CfaRule.RegisterOffset(cfaRegister, (long)reader.Uleb128()));
            case DefCfaSf:
                int cfaRegisterSf = RegisterNumber(ref reader);
                return DefineCfa(new CfaRule.RegisterOffset(cfaRegisterSf, Factored(reader.Sleb128())));
            case DefCfaRegister:
                return DefineCfa(CurrentRegisterCfa("DW_CFA_def_cfa_register") with { Register = RegisterNumber(ref reader) });
            case DefCfaOffset:
                return DefineCfa(CurrentRegisterCfa("DW_CFA_def_cfa_offset") with { Offset = (long)reader.Uleb128() });
            case DefCfaOffsetSf:
                return DefineCfa(CurrentRegisterCfa("DW_CFA_def_cfa_offset_sf") with { Offset = Factored(reader.Sleb128()) });
            case DefCfaExpression:
                return DefineCfa(new CfaRule.Expression(Block(ref reader, program)));
            case RememberState:
                return Remember();
            case RestoreState:
                return RestoreRemembered();
            case GnuArgsSize:
                reader.Uleb128();
                return false;
            default:
                throw Error($"uses unknown opcode 0x{op:x2} at offset 0x{reader.Position - 1:x}");
        }
    }

    private bool AdvancePast(ulong delta, ulong pc)
    {
        ulong factor = cie.CodeAlignmentFactor;
        if (delta != 0 && factor > ulong.MaxValue / delta)
        {
            return true;
        }

        ulong step = delta * factor;
        if (step > pc - _location)
        {
            return true;
        }

        _location += step;
        return false;
    }

    private long Factored(ulong value) => unchecked((long)value * cie.DataAlignmentFactor);

    private long Factored(long value) => unchecked(value * cie.DataAlignmentFactor);

    private bool Set(int register, RegisterRule rule)
    {
        _rules[register] = rule;
        return false;
    }

    private bool RestoreRule(int register)
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

    private bool DefineCfa(CfaRule rule)
    {
        _cfa = rule;
        return false;
    }

    private CfaRule.RegisterOffset CurrentRegisterCfa(string instruction)
    {
        return _cfa as CfaRule.RegisterOffset
            ?? throw Error($"uses {instruction} while the CFA is {(_cfa is null ? "not yet defined" : "an expression")}");
    }

    // The CFA rule is part of the remembered state, as in libgcc and GCC's epilogue CFI which relies on it.
    private bool Remember()
    {
        if (_remembered.Count >= MaxRememberDepth)
        {
            throw Error($"nests DW_CFA_remember_state deeper than {MaxRememberDepth}");
        }

        _remembered.Push((_cfa, new Dictionary<int, RegisterRule>(_rules)));
        return false;
    }

    private bool RestoreRemembered()
    {
        if (!_remembered.TryPop(out (CfaRule? Cfa, Dictionary<int, RegisterRule> Rules) state))
        {
            throw Error("uses DW_CFA_restore_state with nothing remembered");
        }

        (_cfa, _rules) = state;
        return false;
    }

    private int RegisterNumber(ref ByteReader reader)
    {
        ulong register = reader.Uleb128();
        return register <= MaxRegister ? (int)register : throw Error($"names register {register}, beyond {MaxRegister}");
    }

    private static ReadOnlyMemory<byte> Block(ref ByteReader reader, ReadOnlyMemory<byte> program)
    {
        int length = reader.Uleb128Length();
        int start = reader.Position;
        reader.Bytes(length);
        return program.Slice(start, length);
    }

    private ElfFormatException Error(string problem) => new($"{_where} {problem}");
}
