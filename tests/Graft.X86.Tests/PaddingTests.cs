namespace Graft.X86.Tests;

public sealed class PaddingTests
{
    [Fact]
    public void TheNopsAfterGlibcsDlDebugStateArePadding()
    {
        byte[] padding =
        [
            0x66, 0x66, 0x2e, 0x0f, 0x1f, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00, // data16 cs nop word [rax+rax*1+0x0]
            0x0f, 0x1f, 0x40, 0x00,                                           // nop dword [rax+0x0]
        ];

        Assert.True(Padding.IsPadding(padding));
    }

    [Fact]
    public void Int3FillAndOneByteNopsArePadding()
    {
        Assert.True(Padding.IsPadding([0xcc, 0xcc, 0x90, 0x66, 0x90]));
    }

    [Fact]
    public void CodeIsNotPadding()
    {
        byte[] code =
        [
            0x0f, 0x1f, 0x40, 0x00, // nop dword [rax+0x0]
            0x48, 0x8d, 0x05, 0xa1, // lea rax, [rip+...]: the next function's first instruction
        ];

        Assert.False(Padding.IsPadding(code));
    }

    [Fact]
    public void ANopCutByTheEndIsNotPadding()
    {
        // nop dword [rax+0x0] without its last byte: what follows the span would complete it.
        Assert.False(Padding.IsPadding([0x90, 0x0f, 0x1f, 0x40]));
    }
}
