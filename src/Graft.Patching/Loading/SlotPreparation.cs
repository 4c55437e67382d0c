using Graft.Core.State;
using Graft.Patching.Target;
using Graft.X86;

namespace Graft.Patching.Loading;

/// <summary>Writes the slot of one function to be redirected; nothing jumps to it yet.</summary>
internal static class SlotPreparation
{
    /// <summary>
    /// The slot's code (relocated entry, dispatcher room, jump back) and the function's record. A
    /// nop's new function is the slot's copy of the original code. Also returns where each
    /// displaced instruction went, for threads found between them while the entry is rewritten.
    /// </summary>
    public static (PatchedFunction Function, IReadOnlyDictionary<ulong, ulong> MovedInstructions) Write(
        TargetProcess target, ResolvedFunction function, ulong slot, ulong bias)
    {
        SlotImage image;
        var newFunction = function.IsNop ? slot + SlotLayout.OriginalCodeOffset : bias + function.Definition.NewFunction;
        try
        {
            image = SlotCode.Build(slot, function.Analysis, newFunction);
        }
        catch (SlotEncodingException e)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot patch '{function.Definition.OldName}': {e.Message}", e);
        }

        target.Tracee.Memory.Write(slot, image.Bytes.Span);
        var moved = image.InstructionMap.ToDictionary(m => m.OriginalAddress, m => m.CopyAddress);
        var record = new PatchedFunction(function.Definition.OldName, function.Definition.OldSympos, function.Module.Path,
            function.Address, function.Size, function.Analysis.PatchAddress, Convert.ToHexString(function.Analysis.WindowBytes.Span),
            slot, newFunction)
        {
            NewSize = function.Definition.NewSize,
            IsNop = function.IsNop,
        };
        return (record, moved);
    }
}
