using System.Buffers.Binary;
using Graft.Elf;
using Graft.Elf.Writing;

namespace Graft.Patching.Building.FromDiff;

/// <summary>
/// The unwind information of the code the patch carries: Graft unwinds every thread's stack
/// through patch code (per-thread consistency, graft_preserve's stack-passed arguments), so each
/// copied function keeps its FDE, with the CIE it points at.
/// </summary>
internal sealed partial class PatchObject
{
    private const uint UnwindSectionType = 0x70000001; // SHT_X86_64_UNWIND
    private const ulong UnwindFlags = 0x2;

    private void CopyUnwindInfo(CompiledObject obj)
    {
        if (obj.Elf.FindSection(".eh_frame") is not { } frames)
        {
            return;
        }

        var data = obj.Bytes(frames);
        var relocations = obj.RelocationsOf(frames);
        OutputSection? copy = null;
        var copiedCies = new Dictionary<int, int>();
        for (int offset = 0; offset + 8 <= data.Length;)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset));
            if (length == 0)
            {
                break;
            }

            var end = offset + 4 + length;
            var cieDistance = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset + 4));
            var start = relocations.FirstOrDefault(r => (int)r.Offset == offset + 8);
            if (cieDistance != 0 && start?.Symbol is { Type: ElfSymbolType.Section } code && _copies.ContainsKey((obj, code.SectionIndex)))
            {
                copy ??= _builder.AddSection(".eh_frame", UnwindSectionType, UnwindFlags, 8);
                var cie = offset + 4 - cieDistance;
                if (!copiedCies.TryGetValue(cie, out var copiedCie))
                {
                    copiedCie = copy.Data.Count;
                    CopyRecord(obj, data, relocations, cie, copy);
                    copiedCies[cie] = copiedCie;
                }

                var fde = CopyRecord(obj, data, relocations, offset, copy);
                BinaryPrimitives.WriteInt32LittleEndian(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(copy.Data)[(fde + 4)..], fde + 4 - copiedCie);
            }

            offset = end;
        }
    }

    /// <summary>Appends one CIE or FDE and its relocations; returns where it starts in the copy.</summary>
    private int CopyRecord(CompiledObject obj, byte[] data, IReadOnlyList<ElfRelocation> relocations, int offset, OutputSection copy)
    {
        var end = offset + 4 + BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(offset));
        var at = copy.Data.Count;
        copy.Data.AddRange(data.AsSpan(offset, end - offset));
        foreach (var relocation in relocations.Where(r => (int)r.Offset >= offset && (int)r.Offset < end))
        {
            var symbol = relocation.Symbol ?? throw Refuse($"{obj.SourceFile}: .eh_frame has a relocation without a symbol");
            var target = symbol.Type == ElfSymbolType.Section
                ? _builder.SectionSymbol(Copy(obj, obj.Elf.Sections[symbol.SectionIndex]))
                : Outside(symbol.Name, obj.SourceFile);
            copy.Relocations.Add(new OutputRelocation((ulong)(at + (int)relocation.Offset - offset), relocation.Type, target, relocation.Addend));
        }

        return at;
    }
}
