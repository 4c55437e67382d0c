using Graft.Elf;

namespace Graft.Patching.Contract;

/// <summary>
/// The extent of the body that holds an address: its FDE in <c>.eh_frame</c> (which stripped objects keep, and which
/// gives a cold part its own range), else a function symbol that covers it.
/// </summary>
internal sealed class FunctionRanges(ElfFile elf)
{
    private readonly ElfSymbol[] functions = [.. elf.Symbols.Concat(elf.DynamicSymbols)
        .Where(s => s.IsDefined && s.Type == ElfSymbolType.Func && s.Size > 0)
        .OrderBy(s => s.Value)];

    public (ulong Start, ulong End)? Find(ulong address)
    {
        if (elf.EhFrame?.Find(address) is { } fde)
        {
            return (fde.InitialLocation, fde.EndLocation);
        }

        ElfSymbol? covering = functions.LastOrDefault(s => s.Value <= address && address < s.Value + s.Size);
        return covering is null ? null : (covering.Value, covering.Value + covering.Size);
    }
}
