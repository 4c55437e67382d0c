using Graft.Elf.Parsing;

using static Graft.Elf.Dwarf.Parsing.CfiOpcode;

namespace Graft.Elf.Dwarf.Parsing;

/// <summary>Runs a CIE's initial instructions and then an FDE's instructions up to a pc (DWARF 5, 6.4.2).
/// Every instruction consumes at least one byte, so a run is bounded by the program's length.</summary>
internal sealed class CfiInterpreter
{
    /// <summary>Well above any x86-64 DWARF register number (k7 is 125); larger ones mean garbage.</summary>
    public const int MaxRegister = 1023;

    private readonly CommonInformationEntry _cie;
    private readonly string _where;
    private readonly CfiRowState _state;
    private ulong _location;

    public CfiInterpreter(CommonInformationEntry cie, int fdeOffset)
    {
        _cie = cie;
        _where = $"CFI program of FDE at .eh_frame+0x{fdeOffset:x}";
        _state = new CfiRowState(_where);
    }

    public CfiRow Run(ReadOnlyMemory<byte> instructions, ulong instructionsAddress, ulong initialLocation, ulong pc)
    {
        _location = initialLocation;
        bool passedPc = Execute(_cie.InitialInstructions, _cie.InitialInstructionsAddress, pc);
        _state.EndOfCie();
        if (!passedPc)
        {
            Execute(instructions, instructionsAddress, pc);
        }

        return _state.ToRow();
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
                Offset => _state.Set(operand, new RegisterRule.Offset(Factored(reader.Uleb128()))),
                Restore => _state.Restore(operand),
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
                ulong target = PointerEncoding.Read(ref reader, _cie.FdeEncoding, programAddress + (ulong)reader.Position);
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
                return _state.Set(RegisterNumber(ref reader), new RegisterRule.Offset(Factored(reader.Uleb128())));
            case OffsetExtendedSf:
                return _state.Set(RegisterNumber(ref reader), new RegisterRule.Offset(Factored(reader.Sleb128())));
            case GnuNegativeOffsetExtended:
                return _state.Set(RegisterNumber(ref reader), new RegisterRule.Offset(-Factored(reader.Uleb128())));
            case ValOffset:
                return _state.Set(RegisterNumber(ref reader), new RegisterRule.ValOffset(Factored(reader.Uleb128())));
            case ValOffsetSf:
                return _state.Set(RegisterNumber(ref reader), new RegisterRule.ValOffset(Factored(reader.Sleb128())));
            case RestoreExtended:
                return _state.Restore(RegisterNumber(ref reader));
            case Undefined:
                return _state.Set(RegisterNumber(ref reader), RegisterRule.Undefined);
            case SameValue:
                return _state.Set(RegisterNumber(ref reader), RegisterRule.SameValue);
            case Register:
                int saved = RegisterNumber(ref reader);
                return _state.Set(saved, new RegisterRule.Register(RegisterNumber(ref reader)));
            case Expression:
                int expressionRegister = RegisterNumber(ref reader);
                return _state.Set(expressionRegister, new RegisterRule.Expression(Block(ref reader, program)));
            case ValExpression:
                int valueRegister = RegisterNumber(ref reader);
                return _state.Set(valueRegister, new RegisterRule.ValExpression(Block(ref reader, program)));
            case DefCfa:
                int cfaRegister = RegisterNumber(ref reader);
                return _state.DefineCfa(new CfaRule.RegisterOffset(cfaRegister, (long)reader.Uleb128()));
            case DefCfaSf:
                int cfaRegisterSf = RegisterNumber(ref reader);
                return _state.DefineCfa(new CfaRule.RegisterOffset(cfaRegisterSf, Factored(reader.Sleb128())));
            case DefCfaRegister:
                return _state.DefineCfa(_state.CurrentRegisterCfa("DW_CFA_def_cfa_register") with { Register = RegisterNumber(ref reader) });
            case DefCfaOffset:
                return _state.DefineCfa(_state.CurrentRegisterCfa("DW_CFA_def_cfa_offset") with { Offset = (long)reader.Uleb128() });
            case DefCfaOffsetSf:
                return _state.DefineCfa(_state.CurrentRegisterCfa("DW_CFA_def_cfa_offset_sf") with { Offset = Factored(reader.Sleb128()) });
            case DefCfaExpression:
                return _state.DefineCfa(new CfaRule.Expression(Block(ref reader, program)));
            case RememberState:
                return _state.Remember();
            case RestoreState:
                return _state.RestoreRemembered();
            case GnuArgsSize:
                reader.Uleb128();
                return false;
            default:
                throw Error($"uses unknown opcode 0x{op:x2} at offset 0x{reader.Position - 1:x}");
        }
    }

    private bool AdvancePast(ulong delta, ulong pc)
    {
        ulong factor = _cie.CodeAlignmentFactor;
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

    private long Factored(ulong value) => unchecked((long)value * _cie.DataAlignmentFactor);

    private long Factored(long value) => unchecked(value * _cie.DataAlignmentFactor);

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
