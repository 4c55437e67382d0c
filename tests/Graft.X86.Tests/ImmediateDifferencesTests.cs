using Graft.X86.References;

namespace Graft.X86.Tests;

// A serverAssert call as gcc -O2 compiles it (relocated fields already masked to 0), before and after a diff
// added lines above it: only __LINE__, the immediate loaded into edx, moved.
public sealed class ImmediateDifferencesTests
{
    private static readonly byte[] Original =
    [
        0xBA, 0xA1, 0x08, 0x00, 0x00,             // +0: mov edx,0x8a1 (__LINE__ 2209)
        0x48, 0x8D, 0x35, 0x00, 0x00, 0x00, 0x00, // +5: lea rsi,[rip] ("cluster.c")
        0x48, 0x8D, 0x3D, 0x00, 0x00, 0x00, 0x00, // +c: lea rdi,[rip] (the failed expression)
        0xE8, 0x00, 0x00, 0x00, 0x00,             // +13: call _serverAssert
    ];

    [Fact]
    public void AMovedLineIsTheOnlyDifference()
    {
        var patched = With(Original, (1, 0xAC)); // mov edx,0x8ac (2220)

        Assert.Equal([(0x8a1UL, 0x8acUL)], ImmediateDifferences.Of(Original, patched));
    }

    [Fact]
    public void TheSameCodeHasNoDifference()
    {
        Assert.Equal([], ImmediateDifferences.Of(Original, Original));
    }

    [Fact]
    public void AnotherRegisterIsNotAnImmediate()
    {
        var patched = With(Original, (0, 0xB9)); // mov ecx,0x8a1

        Assert.Null(ImmediateDifferences.Of(Original, patched));
    }

    [Fact]
    public void AnotherDisplacementIsNotAnImmediate()
    {
        byte[] original = [0x8B, 0x47, 0x08, 0xC3]; // mov eax,[rdi+8]; ret
        byte[] patched = [0x8B, 0x47, 0x10, 0xC3];  // mov eax,[rdi+0x10]; ret

        Assert.Null(ImmediateDifferences.Of(original, patched));
    }

    [Fact]
    public void AnImmediateOfAnotherSizeChangesTheCode()
    {
        byte[] original = [0x83, 0xFF, 0x7F, 0xC3];                   // cmp edi,0x7f; ret
        byte[] patched = [0x81, 0xFF, 0x80, 0x00, 0x00, 0x00, 0xC3]; // cmp edi,0x80; ret

        Assert.Null(ImmediateDifferences.Of(original, patched));
    }

    private static byte[] With(byte[] code, params (int Offset, byte Value)[] changes)
    {
        var copy = code.ToArray();
        foreach (var (offset, value) in changes)
        {
            copy[offset] = value;
        }

        return copy;
    }
}
