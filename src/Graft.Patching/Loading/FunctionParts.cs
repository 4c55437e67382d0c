using Graft.Elf;
using Graft.Model.State;
using Graft.X86.Contract;

namespace Graft.Patching.Loading;

/// <summary>
/// The parts of a function the compiler placed apart from its entry: gcc's hot/cold splitting moves unlikely blocks
/// into <c>foo.cold</c> (<c>foo.cold.1</c>, ...) in .text.unlikely, reached by jumps from <c>foo</c>'s own code. A thread
/// in such a part is inside <c>foo</c> for the consistency check (the kernel has none of these: its livepatch builds
/// with -fno-reorder-blocks-and-partition).
/// </summary>
internal static class FunctionParts
{
    private const int MaxFunctionSize = 1 << 20;

    /// <summary>The parts, at their addresses in the process (file address plus <paramref name="bias"/>).</summary>
    public static IReadOnlyList<FunctionPart> Of(ElfFile elf, ElfSymbol function, ulong bias)
    {
        if (function.Size == 0 || function.Size > MaxFunctionSize)
        {
            return [];
        }

        byte[] code = new byte[function.Size];
        if (!elf.TryReadAtAddress(function.Value, code))
        {
            return [];
        }

        var parts = new List<FunctionPart>();
        foreach (ulong target in BodyAnalyzer.Analyze(code, function.Value).Exits)
        {
            if (elf.Symbols.FirstOrDefault(s => IsPartOf(s, function.Name) && target >= s.Value && target < s.Value + s.Size) is { } part
                && !parts.Any(p => p.Name == part.Name))
            {
                parts.Add(new FunctionPart(part.Name, bias + part.Value, bias + part.Value + part.Size));
            }
        }

        return parts;
    }

    private static bool IsPartOf(ElfSymbol symbol, string function) =>
        symbol.Type == ElfSymbolType.Func && symbol.Size > 0
        && (symbol.Name == function + ".cold" || symbol.Name.StartsWith(function + ".cold.", StringComparison.Ordinal));
}
