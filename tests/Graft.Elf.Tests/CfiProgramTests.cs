using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

using static Graft.Elf.Tests.Support.EhFrameBuilder;

namespace Graft.Elf.Tests;

public sealed class CfiProgramTests
{
    private const int Rsp = 7;
    private const int Rbp = 6;
    private static readonly byte[] CieProgram = [0x0c, 0x07, 0x08, 0x90, 0x01]; // def_cfa rsp+8; ra at cfa-8

    private static readonly byte[] Program =
    [
        0x41,                               // advance_loc 1                  -> 0x1001
        0x0e, 0x10, 0x86, 0x02,             // def_cfa_offset 16; offset rbp at cfa-16
        0x02, 0x03,                         // advance_loc1 3                 -> 0x1004
        0x0d, 0x06,                         // def_cfa_register rbp
        0x0a,                               // remember_state
        0x03, 0x10, 0x00,                   // advance_loc2 16                -> 0x1014
        0x0c, 0x07, 0x08, 0xc6,             // def_cfa rsp+8; restore rbp
        0x14, 0x03, 0x02,                   // val_offset rbx, cfa-16
        0x09, 0x0c, 0x0d,                   // register r12 in r13
        0x08, 0x0e, 0x07, 0x0f,             // same_value r14; undefined r15
        0x2e, 0x08,                         // GNU_args_size 8
        0x2f, 0x01, 0x02,                   // GNU_negative_offset_extended rdx, cfa+16
        0x11, 0x02, 0x7d,                   // offset_extended_sf rcx, cfa+24
        0x16, 0x04, 0x01, 0x31,             // val_expression rsi, [lit1]
        0x10, 0x05, 0x01, 0x32,             // expression rdi, [lit2]
        0x15, 0x08, 0x7f,                   // val_offset_sf r8, cfa+8
        0x05, 0x09, 0x03,                   // offset_extended r9, cfa-24
        0x04, 0x10, 0x00, 0x00, 0x00,       // advance_loc4 16                -> 0x1024
        0x0b,                               // restore_state
        0x01, .. U64(0x1080),               // set_loc 0x1080
        0x12, 0x07, 0x7e,                   // def_cfa_sf rsp, 2 * -8 * -1 = +16
        0x50,                               // advance_loc 16                 -> 0x1090
        0x13, 0x7d,                         // def_cfa_offset_sf -3 * -8 = 24
        0x06, 0x06,                         // restore_extended rbp
        0x00,                               // nop
    ];

    private readonly FrameDescription _fde = Build(CieProgram, Program);

    [Fact]
    public void RowsFollowTheProgramUpToThePc()
    {
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 8), _fde.ComputeRow(0x1000).Cfa);
        Assert.Equal(new RegisterRule.Offset(-8), _fde.ComputeRow(0x1000).GetRule(16));
        Assert.Equal(RegisterRule.SameValue, _fde.ComputeRow(0x1000).GetRule(Rbp));
        Assert.False(_fde.ComputeRow(0x1000).ExplicitRules.ContainsKey(Rbp));

        CfiRow afterPush = _fde.ComputeRow(0x1003);
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 16), afterPush.Cfa);
        Assert.Equal(new RegisterRule.Offset(-16), afterPush.GetRule(Rbp));

        Assert.Equal(new CfaRule.RegisterOffset(Rbp, 16), _fde.ComputeRow(0x1004).Cfa);
        Assert.Equal(new CfaRule.RegisterOffset(Rbp, 16), _fde.ComputeRow(0x1013).Cfa);
    }

    [Fact]
    public void EveryRuleKindIsRecorded()
    {
        CfiRow row = _fde.ComputeRow(0x1014);

        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 8), row.Cfa);
        Assert.False(row.ExplicitRules.ContainsKey(Rbp));
        Assert.Equal(new RegisterRule.ValOffset(-16), row.GetRule(3));
        Assert.Equal(new RegisterRule.Register(13), row.GetRule(12));
        Assert.Equal(RegisterRule.SameValue, row.ExplicitRules[14]);
        Assert.Equal(RegisterRule.Undefined, row.GetRule(15));
        Assert.Equal(new RegisterRule.Offset(16), row.GetRule(1));
        Assert.Equal(new RegisterRule.Offset(24), row.GetRule(2));
        Assert.Equal(new byte[] { 0x31 }, Assert.IsType<RegisterRule.ValExpression>(row.GetRule(4)).Bytes.ToArray());
        Assert.Equal(new byte[] { 0x32 }, Assert.IsType<RegisterRule.Expression>(row.GetRule(5)).Bytes.ToArray());
        Assert.Equal(new RegisterRule.ValOffset(8), row.GetRule(8));
        Assert.Equal(new RegisterRule.Offset(-24), row.GetRule(9));
    }

    [Fact]
    public void RestoreStateBringsBackTheCfaAndTheRegisters()
    {
        CfiRow row = _fde.ComputeRow(0x107f);

        Assert.Equal(new CfaRule.RegisterOffset(Rbp, 16), row.Cfa);
        Assert.Equal(new RegisterRule.Offset(-16), row.GetRule(Rbp));
        Assert.False(row.ExplicitRules.ContainsKey(3));
    }

    [Fact]
    public void SetLocAndSignedCfaOffsets()
    {
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 16), _fde.ComputeRow(0x1080).Cfa);
        CfiRow last = _fde.ComputeRow(0x10ff);
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 24), last.Cfa);
        Assert.False(last.ExplicitRules.ContainsKey(Rbp));
    }

    [Theory]
    [InlineData(new byte[] { 0x0b }, "DW_CFA_restore_state with nothing remembered")]
    [InlineData(new byte[] { 0x0f, 0x01, 0x31, 0x0e, 0x10 }, "DW_CFA_def_cfa_offset while the CFA is an expression")]
    [InlineData(new byte[] { 0x3f }, "unknown opcode 0x3f")]
    [InlineData(new byte[] { 0x0c, 0x07 }, "truncated")]
    [InlineData(new byte[] { 0x07, 0x88, 0x27 }, "names register 5000")]
    [InlineData(new byte[] { 0x10, 0x05, 0x09, 0x31 }, "runs past the end")]
    public void MalformedProgramsThrowElfFormatException(byte[] program, string message)
    {
        FrameDescription fde = Build(CieProgram, program);
        ElfFormatException error = Assert.Throws<ElfFormatException>(() => fde.ComputeRow(0x10ff));
        Assert.Contains(message, error.Message);
        Assert.Contains("FDE at .eh_frame+0x", error.Message);
    }

    [Fact]
    public void ProgramWithoutCfaIsRefused()
    {
        FrameDescription fde = Build([0x90, 0x01], []);
        Assert.Contains("defines no CFA rule", Assert.Throws<ElfFormatException>(() => fde.ComputeRow(0x1000)).Message);
    }

    [Fact]
    public void InstructionsAfterThePcDoNotApply()
    {
        // A malformed instruction past the pc's row is never reached.
        FrameDescription fde = Build(CieProgram, [0x48, 0x3f]);
        Assert.Equal(new CfaRule.RegisterOffset(Rsp, 8), fde.ComputeRow(0x1007).Cfa);
    }

    private static FrameDescription Build(byte[] cieProgram, byte[] fdeProgram)
    {
        var builder = new EhFrameBuilder();
        int cie = builder.AddCie(string.Empty, [], cieProgram);
        builder.AddFde(cie, [.. U64(0x1000), .. U64(0x100)], null, fdeProgram);
        return Assert.Single(EhFrameTable.Parse(builder.Build(), 0x40_0000).Entries);
    }
}
