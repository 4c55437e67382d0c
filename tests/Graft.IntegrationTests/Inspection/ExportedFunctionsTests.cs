using Graft.Elf;
using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;

namespace Graft.IntegrationTests.Inspection;

/// <summary>
/// A library's exported functions (<see cref="LoadedModule.ExportedFunctionAt"/>), which choose the thread that runs
/// graft's calls, against all its functions (<see cref="LoadedModule.FunctionAt"/>, from the debug file of a stripped
/// libc when one is installed): the exported index never names a function other than the one the whole symbol table finds at an address.
/// </summary>
public sealed class ExportedFunctionsTests
{
    [Fact]
    public void LibcsExportedIndexNamesNoFunctionItDoesNotExport()
    {
        using var waiters = RunningFixture.Start("waiters");
        using var memory = new RemoteMemory(waiters.Pid);
        var libc = ModuleMap.Read(waiters.Pid, memory).Modules.Single(m => m.Soname == "libc.so.6");
        var exported = libc.Elf.DynamicSymbols.Where(IsFunction).Select(s => (s.Value, s.Size)).ToHashSet();
        var functions = (libc.Elf.Symbols.Count > 0 ? libc.Elf.Symbols : libc.Elf.DynamicSymbols).Where(IsFunction).ToList();

        var named = 0;
        foreach (var function in functions)
        {
            // Where the exported index names a function, it is the one the whole symbol table finds there.
            var middle = libc.LoadBias + function.Value + (function.Size / 2);
            if (libc.ExportedFunctionAt(middle) is { } found)
            {
                Assert.Equal(libc.FunctionAt(middle)?.Value, found.Value);
                Assert.Contains((found.Value, found.Size), exported);
                named++;
            }
        }

        Assert.True(named >= exported.Count / 2, $"{named} of {functions.Count} functions named through {exported.Count} exported ones");
        var nanosleep = libc.Elf.DynamicSymbols.First(s => s.Name == "nanosleep");
        Assert.Equal("nanosleep", libc.ExportedFunctionAt(libc.LoadBias + nanosleep.Value + 1)?.Name);
    }

    private static bool IsFunction(ElfSymbol symbol) =>
        symbol.IsDefined && symbol.Type is ElfSymbolType.Func or ElfSymbolType.GnuIFunc && symbol.Size > 0;
}
