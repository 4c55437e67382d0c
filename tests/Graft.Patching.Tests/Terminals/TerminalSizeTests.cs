using Graft.Linux.Terminals;

namespace Graft.Patching.Tests.Terminals;

/// <summary>What is not a terminal has no size (the width then comes from elsewhere); Cli/KeypadModeTests reads a real one.</summary>
public sealed class TerminalSizeTests
{
    [Fact]
    public void AFileHasNoSize()
    {
        using var file = File.OpenHandle("/dev/null", FileMode.Open, FileAccess.Write);

        Assert.Null(TerminalSize.Of((int)file.DangerousGetHandle()));
    }

    [Fact]
    public void NoDescriptorHasNoSize()
    {
        // graft started with stdout closed (>&-).
        Assert.Null(TerminalSize.Of(-1));
    }
}
