using Graft.Model.State;
using Graft.Patching.Loading;
using Graft.Patching.Target;
using Graft.X86;
using Graft.X86.Contract;

namespace Graft.Patching.Redirect;

/// <summary>Writes the slot of one function to be redirected; nothing jumps to it yet.</summary>
internal static class SlotPreparation
{
    /// <summary>
    /// The slot's code (relocated entry, dispatcher room, jump back) and the function's record. A
    /// nop's new function is the slot's copy of the original code. A replacement that may change
    /// what its original leaves alone is reached through the slot's preserving stub. Also returns where each
    /// displaced instruction went, for threads found between them while the entry is rewritten.
    /// </summary>
    public static (PatchedFunction Function, IReadOnlyDictionary<ulong, ulong> MovedInstructions) Write(
        TargetProcess target, ResolvedFunction function, ulong slot, ulong bias)
    {
        SlotImage image;
        var newFunction = function.IsNop ? slot + SlotLayout.OriginalCodeOffset : bias + function.Definition.NewFunction;
        var preserve = function.Entry?.Preserve;
        try
        {
            image = SlotCode.Build(slot, function.Analysis, preserve is null ? newFunction : slot + SlotLayout.PreserveOffset);
        }
        catch (SlotEncodingException e)
        {
            throw new GraftException(GraftFailure.Refused, $"cannot patch '{function.Definition.OldName}': {e.Message}", e);
        }

        target.Memory.Write(slot, image.Bytes.Span);
        if (preserve is not null)
        {
            target.Memory.Write(slot + SlotLayout.PreserveOffset, PreservingEntry.Build(slot + SlotLayout.PreserveOffset,
                bias + function.Entry!.Thunk, preserve with { Replacement = newFunction }, XSaveComponents.ForThisMachine));
        }

        var moved = image.InstructionMap.ToDictionary(m => m.OriginalAddress, m => m.CopyAddress);
        var record = new PatchedFunction(function.Definition.OldName, function.Definition.OldSympos, function.Module.Path,
            function.Address, function.Size, function.Analysis.PatchAddress, Convert.ToHexString(function.Analysis.WindowBytes.Span),
            slot, newFunction)
        {
            NewSize = function.Definition.NewSize,
            IsNop = function.IsNop,
            Entry = function.Entry?.Path,
            Parts = function.Parts,
        };
        return (record, moved);
    }
}
