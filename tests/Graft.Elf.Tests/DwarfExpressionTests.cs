using Graft.Elf.Dwarf;
using Graft.Elf.Tests.Support;

namespace Graft.Elf.Tests;

public sealed class DwarfExpressionTests
{
    private readonly FakeMachine _machine = new();

    [Theory]
    [InlineData(new byte[] { 0x30 }, 0UL)]
    [InlineData(new byte[] { 0x4f }, 31UL)]
    [InlineData(new byte[] { 0x08, 0xff }, 0xffUL)]
    [InlineData(new byte[] { 0x09, 0xff }, ulong.MaxValue)]
    [InlineData(new byte[] { 0x0a, 0x34, 0x12 }, 0x1234UL)]
    [InlineData(new byte[] { 0x0b, 0xfe, 0xff }, 0xfffffffffffffffeUL)]
    [InlineData(new byte[] { 0x0c, 0x78, 0x56, 0x34, 0x12 }, 0x12345678UL)]
    [InlineData(new byte[] { 0x0d, 0x00, 0x00, 0x00, 0x80 }, 0xffffffff80000000UL)]
    [InlineData(new byte[] { 0x0e, 1, 2, 3, 4, 5, 6, 7, 8 }, 0x0807060504030201UL)]
    [InlineData(new byte[] { 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, ulong.MaxValue)]
    [InlineData(new byte[] { 0x03, 0x00, 0x10, 0, 0, 0, 0, 0, 0 }, 0x1000UL)]
    [InlineData(new byte[] { 0x10, 0xe5, 0x8e, 0x26 }, 624485UL)]
    [InlineData(new byte[] { 0x11, 0x7f }, ulong.MaxValue)]
    [InlineData(new byte[] { 0x11, 0x80, 0x7f }, 0xffffffffffffff80UL)]
    public void ConstantsPushTheirOperand(byte[] expression, ulong expected)
    {
        Assert.Equal(expected, DwarfExpression.Evaluate(expression, _machine));
    }

    [Theory]
    [InlineData(new byte[] { 0x35, 0x12, 0x22 }, 10UL)]          // lit5 dup plus
    [InlineData(new byte[] { 0x35, 0x37, 0x13 }, 5UL)]           // lit5 lit7 drop
    [InlineData(new byte[] { 0x35, 0x37, 0x14 }, 5UL)]           // lit5 lit7 over
    [InlineData(new byte[] { 0x31, 0x32, 0x33, 0x15, 0x02 }, 1UL)] // lit1 lit2 lit3 pick 2
    [InlineData(new byte[] { 0x35, 0x37, 0x16 }, 5UL)]           // lit5 lit7 swap
    [InlineData(new byte[] { 0x31, 0x32, 0x33, 0x17 }, 2UL)]     // lit1 lit2 lit3 rot -> 3 1 2
    [InlineData(new byte[] { 0x31, 0x32, 0x33, 0x17, 0x13 }, 1UL)]
    [InlineData(new byte[] { 0x31, 0x32, 0x33, 0x17, 0x13, 0x13 }, 3UL)]
    public void StackOperationsRearrangeEntries(byte[] expression, ulong expected)
    {
        Assert.Equal(expected, DwarfExpression.Evaluate(expression, _machine));
    }

    [Theory]
    [InlineData(new byte[] { 0x09, 0xf9, 0x19 }, 7UL)]           // abs(-7)
    [InlineData(new byte[] { 0x3c, 0x3a, 0x1a }, 8UL)]           // 12 and 10
    [InlineData(new byte[] { 0x09, 0xf9, 0x32, 0x1b }, 0xfffffffffffffffdUL)] // -7 div 2 = -3
    [InlineData(new byte[] { 0x3c, 0x3a, 0x1c }, 2UL)]           // 12 minus 10
    [InlineData(new byte[] { 0x3c, 0x35, 0x1d }, 2UL)]           // 12 mod 5
    [InlineData(new byte[] { 0x3c, 0x35, 0x1e }, 60UL)]          // 12 mul 5
    [InlineData(new byte[] { 0x35, 0x1f }, 0xfffffffffffffffbUL)] // neg 5
    [InlineData(new byte[] { 0x30, 0x20 }, ulong.MaxValue)]      // not 0
    [InlineData(new byte[] { 0x3c, 0x3a, 0x21 }, 14UL)]          // 12 or 10
    [InlineData(new byte[] { 0x3c, 0x3a, 0x22 }, 22UL)]          // 12 plus 10
    [InlineData(new byte[] { 0x3c, 0x23, 0x80, 0x01 }, 140UL)]   // 12 plus_uconst 128
    [InlineData(new byte[] { 0x33, 0x34, 0x24 }, 48UL)]          // 3 shl 4
    [InlineData(new byte[] { 0x31, 0x08, 0x40, 0x24 }, 0UL)]     // 1 shl 64
    [InlineData(new byte[] { 0x09, 0xf0, 0x32, 0x25 }, 0x3ffffffffffffffcUL)] // -16 shr 2
    [InlineData(new byte[] { 0x09, 0xf0, 0x32, 0x26 }, 0xfffffffffffffffcUL)] // -16 shra 2
    [InlineData(new byte[] { 0x3c, 0x3a, 0x27 }, 6UL)]           // 12 xor 10
    public void ArithmeticAndLogicOperateOnTheTopTwoEntries(byte[] expression, ulong expected)
    {
        Assert.Equal(expected, DwarfExpression.Evaluate(expression, _machine));
    }

    [Theory]
    [InlineData(0x29, 0UL, 1UL, 0UL, 0UL)] // eq
    [InlineData(0x2e, 1UL, 0UL, 1UL, 1UL)] // ne
    [InlineData(0x2a, 0UL, 1UL, 1UL, 1UL)] // ge (signed: -1 >= 1 is false)
    [InlineData(0x2b, 0UL, 0UL, 1UL, 1UL)] // gt
    [InlineData(0x2c, 1UL, 1UL, 0UL, 0UL)] // le
    [InlineData(0x2d, 1UL, 0UL, 0UL, 0UL)] // lt
    public void ComparisonsAreSigned(byte op, ulong minusOneVsOne, ulong oneVsOne, ulong twoVsOne, ulong oneVsMinusOne)
    {
        Assert.Equal(minusOneVsOne, DwarfExpression.Evaluate([0x09, 0xff, 0x31, op], _machine));
        Assert.Equal(oneVsOne, DwarfExpression.Evaluate([0x31, 0x31, op], _machine));
        Assert.Equal(twoVsOne, DwarfExpression.Evaluate([0x32, 0x31, op], _machine));
        Assert.Equal(oneVsMinusOne, DwarfExpression.Evaluate([0x31, 0x09, 0xff, op], _machine));
    }

    [Fact]
    public void BranchesFollowTheConditionAndSkipJumps()
    {
        // lit0 bra +1 (not taken) lit7 skip +1 (over lit9) -> 7 ; lit1 bra +1 (taken, over lit7) lit9 -> 9
        Assert.Equal(7UL, DwarfExpression.Evaluate([0x30, 0x28, 0x01, 0x00, 0x37, 0x2f, 0x01, 0x00, 0x39], _machine));
        Assert.Equal(9UL, DwarfExpression.Evaluate([0x31, 0x28, 0x01, 0x00, 0x37, 0x39], _machine));
    }

    [Fact]
    public void RegistersAndMemoryComeFromTheContext()
    {
        _machine.Registers[7] = 0x1000;
        _machine.Registers[20] = 0x2000;
        _machine.Memory[0x1008] = 0x1122334455667788;

        Assert.Equal(0x1008UL, DwarfExpression.Evaluate([0x77, 0x08], _machine));
        Assert.Equal(0xff8UL, DwarfExpression.Evaluate([0x77, 0x78], _machine));
        Assert.Equal(0x2010UL, DwarfExpression.Evaluate([0x92, 0x14, 0x10], _machine));
        Assert.Equal(0x1122334455667788UL, DwarfExpression.Evaluate([0x77, 0x08, 0x06], _machine));
        Assert.Equal(0x7788UL, DwarfExpression.Evaluate([0x77, 0x08, 0x94, 0x02], _machine));
        Assert.Equal(0x55667788UL, DwarfExpression.Evaluate([0x77, 0x08, 0x94, 0x04, 0x96], _machine));
    }

    [Fact]
    public void InitialValueIsPushedFirst()
    {
        Assert.Equal(0x1010UL, DwarfExpression.Evaluate([0x23, 0x10], _machine, 0x1000));
        Assert.Equal(0x1000UL, DwarfExpression.Evaluate([], _machine, 0x1000));
    }

    [Fact]
    public void PltExpressionSelectsEightOrSixteen()
    {
        byte[] plt = [0x77, 0x08, 0x80, 0x00, 0x3f, 0x1a, 0x3b, 0x2a, 0x33, 0x24, 0x22];
        _machine.Registers[7] = 0x7000;
        for (ulong rip = 0x1020; rip < 0x1030; rip++)
        {
            _machine.Registers[16] = rip;
            Assert.Equal((rip & 15) >= 11 ? 0x7010UL : 0x7008UL, DwarfExpression.Evaluate(plt, _machine));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x2f, 0xfd, 0xff }, "did not finish within 10000 operations")] // skip -3: itself
    [InlineData(new byte[] { 0x31, 0x28, 0xfd, 0xff }, "needs 1 values on the stack")]        // bra back pops until empty
    [InlineData(new byte[] { 0x2f, 0x10, 0x00 }, "branches to offset 19")]
    [InlineData(new byte[] { 0x22 }, "needs 1 values on the stack but has 0")]
    [InlineData(new byte[] { 0x31, 0x30, 0x1b }, "divides by zero")]
    [InlineData(new byte[] { 0x31, 0x30, 0x1d }, "divides by zero")]
    [InlineData(new byte[] { 0x50 }, "not a location expression we support")]
    [InlineData(new byte[] { 0x90, 0x01 }, "not a location expression we support")]
    [InlineData(new byte[] { 0xe0 }, "unsupported operation 0xe0")]
    [InlineData(new byte[] { 0x0c, 0x01 }, "DWARF expression truncated")]
    [InlineData(new byte[] { 0x96 }, "leaves an empty stack")]
    [InlineData(new byte[] { 0x31, 0x94, 0x09 }, "size 9")]
    public void MalformedExpressionsThrowElfFormatException(byte[] expression, string message)
    {
        _machine.Memory[1] = 0;
        ElfFormatException error = Assert.Throws<ElfFormatException>(() => DwarfExpression.Evaluate(expression, _machine));
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void DivisionOfTheMostNegativeValueByMinusOneWraps()
    {
        byte[] expression = [0x0e, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x09, 0xff, 0x1b];
        Assert.Equal(0x8000000000000000UL, DwarfExpression.Evaluate(expression, _machine));
    }
}
