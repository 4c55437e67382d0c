namespace Graft.X86.Tests;

public sealed class JumpCodeTests
{
    private const ulong From = 0x7f12_3456_0000;

    [Fact]
    public void EncodesForwardAndBackwardJumps()
    {
        Assert.Equal([0xE9, 0x0B, 0x00, 0x00, 0x00], JumpCode.EncodeJmpRel32(From, From + 0x10)); // jmp +0x10
        Assert.Equal([0xE9, 0xFB, 0xFF, 0xFF, 0xFF], JumpCode.EncodeJmpRel32(From, From));        // jmp to itself
        Assert.Equal([0xE9, 0x00, 0x00, 0x00, 0x00], JumpCode.EncodeJmpRel32(From, From + 5));    // jmp to the next instruction
    }

    [Fact]
    public void EncodesTheFarthestReachableTargets()
    {
        ulong farthestForward = From + 5 + int.MaxValue;
        ulong farthestBackward = From + 5 - 0x8000_0000;

        Assert.Equal([0xE9, 0xFF, 0xFF, 0xFF, 0x7F], JumpCode.EncodeJmpRel32(From, farthestForward));
        Assert.Equal([0xE9, 0x00, 0x00, 0x00, 0x80], JumpCode.EncodeJmpRel32(From, farthestBackward));
        Assert.True(JumpCode.IsWithinRel32(From, farthestForward));
        Assert.True(JumpCode.IsWithinRel32(From, farthestBackward));
    }

    [Fact]
    public void OneByteBeyondEitherEdgeIsOutOfReach()
    {
        ulong beyondForward = From + 5 + int.MaxValue + 1;
        ulong beyondBackward = From + 5 - 0x8000_0001;

        Assert.False(JumpCode.IsWithinRel32(From, beyondForward));
        Assert.False(JumpCode.IsWithinRel32(From, beyondBackward));
        var exception = Assert.Throws<SlotEncodingException>(() => JumpCode.EncodeJmpRel32(From, beyondForward));
        Assert.Equal(
            "a jmp rel32 at 0x7f1234560000 cannot reach 0x7f12b4560005: the distance does not fit in a signed 32-bit displacement",
            exception.Message);
        Assert.Throws<SlotEncodingException>(() => JumpCode.EncodeJmpRel32(From, beyondBackward));
    }

    [Fact]
    public void ReachCountsFromTheEndOfAnInstructionOfTheGivenLength()
    {
        ulong target = From + 6 + int.MaxValue;

        Assert.False(JumpCode.IsWithinRel32(From, target));
        Assert.True(JumpCode.IsWithinRel32(From, target, instructionLength: 6));
    }

    [Fact]
    public void AddressesAtTheEndsOfTheAddressSpaceDoNotWrapAround()
    {
        Assert.False(JumpCode.IsWithinRel32(ulong.MaxValue - 4, 0));
        Assert.False(JumpCode.IsWithinRel32(0, ulong.MaxValue));
        Assert.Throws<SlotEncodingException>(() => JumpCode.EncodeJmpRel32(ulong.MaxValue, 0x10));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    public void InstructionLengthMustBeThatOfAnX86Instruction(int length)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => JumpCode.IsWithinRel32(From, From, length));
    }
}
