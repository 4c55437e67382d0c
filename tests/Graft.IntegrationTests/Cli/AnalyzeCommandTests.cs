using System.Text.Json;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Cli;

/// <summary>graft analyze on the callers fixture (gcc -O2): what each function's callers may rely on, and the refusals.</summary>
public sealed class AnalyzeCommandTests
{
    [Fact]
    public void TheLeafTouchKeepsEveryCallerSavedRegisterAndTheAssemblyLoopIsRefused()
    {
        var result = Shell.Graft("analyze", Repository.Fixture("callers"), "--functions");

        Assert.Equal(0, result.ExitCode);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.EndsWith(
            " touch: patchable: callers may rely on: rax rcx rdx rsi rdi r8 r9 r10 r11 xmm0-31 k0-7; may be called with rsp misaligned",
            StringComparison.Ordinal));
        Assert.Contains(lines, l => l.EndsWith(" park: patchable: callers may rely on: nothing", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(" asm_caller: BranchIntoWindow: ", StringComparison.Ordinal));
    }

    [Fact]
    public void JsonListsEveryFunctionWithItsVerdict()
    {
        var result = Shell.Graft("analyze", Repository.Fixture("callers"), "--json");

        Assert.Equal(0, result.ExitCode);
        using var document = JsonDocument.Parse(result.Stdout);
        var functions = document.RootElement.GetProperty("functions").EnumerateArray().ToList();
        var touch = functions.Single(f => f.GetProperty("name").GetString() == "touch");
        Assert.Equal("patchable", touch.GetProperty("verdict").GetString());
        Assert.True(touch.GetProperty("mayBeCalledMisaligned").GetBoolean());
        Assert.Equal(".symtab", document.RootElement.GetProperty("symbolTable").GetString());
    }
}
