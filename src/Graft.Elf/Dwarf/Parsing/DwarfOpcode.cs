namespace Graft.Elf.Dwarf.Parsing;

/// <summary>DW_OP_* opcodes (DWARF 5, 7.7.1) that <see cref="DwarfExpression"/> knows.</summary>
internal static class DwarfOpcode
{
    public const byte Addr = 0x03;
    public const byte Deref = 0x06;
    public const byte Const1u = 0x08;
    public const byte Const1s = 0x09;
    public const byte Const2u = 0x0a;
    public const byte Const2s = 0x0b;
    public const byte Const4u = 0x0c;
    public const byte Const4s = 0x0d;
    public const byte Const8u = 0x0e;
    public const byte Const8s = 0x0f;
    public const byte Constu = 0x10;
    public const byte Consts = 0x11;
    public const byte Dup = 0x12;
    public const byte Drop = 0x13;
    public const byte Over = 0x14;
    public const byte Pick = 0x15;
    public const byte Swap = 0x16;
    public const byte Rot = 0x17;
    public const byte Abs = 0x19;
    public const byte And = 0x1a;
    public const byte Div = 0x1b;
    public const byte Minus = 0x1c;
    public const byte Mod = 0x1d;
    public const byte Mul = 0x1e;
    public const byte Neg = 0x1f;
    public const byte Not = 0x20;
    public const byte Or = 0x21;
    public const byte Plus = 0x22;
    public const byte PlusUconst = 0x23;
    public const byte Shl = 0x24;
    public const byte Shr = 0x25;
    public const byte Shra = 0x26;
    public const byte Xor = 0x27;
    public const byte Bra = 0x28;
    public const byte Eq = 0x29;
    public const byte Ge = 0x2a;
    public const byte Gt = 0x2b;
    public const byte Le = 0x2c;
    public const byte Lt = 0x2d;
    public const byte Ne = 0x2e;
    public const byte Skip = 0x2f;
    public const byte Lit0 = 0x30;
    public const byte Lit31 = 0x4f;
    public const byte Reg0 = 0x50;
    public const byte Reg31 = 0x6f;
    public const byte Breg0 = 0x70;
    public const byte Breg31 = 0x8f;
    public const byte Regx = 0x90;
    public const byte Bregx = 0x92;
    public const byte DerefSize = 0x94;
    public const byte Nop = 0x96;
}
