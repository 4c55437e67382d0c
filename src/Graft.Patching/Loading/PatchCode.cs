using Graft.Core.Patches;
using Graft.Elf;

namespace Graft.Patching.Loading;

/// <summary>A patch's descriptor with its file, whose code the entry planner reads.</summary>
internal sealed record PatchCode(PatchDefinition Definition, ElfFile Elf)
{
    public static PatchCode Load(PatchDefinition definition)
    {
        try
        {
            return new PatchCode(definition, ElfFile.Load(definition.Path));
        }
        catch (Exception e) when (e is ElfFormatException or IOException or UnauthorizedAccessException)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot read {definition.Path}: {e.Message}", e);
        }
    }
}
