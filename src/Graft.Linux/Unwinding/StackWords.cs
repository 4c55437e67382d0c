using System.Buffers.Binary;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;

namespace Graft.Linux.Unwinding;

/// <summary>
/// The conservative answer for a stack the unwinder could not follow to its end: every word from
/// the stack pointer to the end of the mapping it lies in. Each frame below the ones unwound lives
/// there, signal frames included (a handler on an alternate stack keeps the frame of what it
/// interrupted on that stack), so a pc that no word matches is in no frame. Data that looks like
/// such a pc matches too: the answer errs towards "maybe".
/// </summary>
public static class StackWords
{
    /// <summary>The most of a stack read: far above a real thread's used stack; a longer one counts as a match.</summary>
    private const int MaxBytes = 8 << 20;

    public static bool Any(int pid, IMemory memory, ulong stackPointer, Func<ulong, bool> match)
    {
        if (ProcessMaps.Read(pid).FirstOrDefault(m => m.Contains(stackPointer)) is not { } mapping)
        {
            return true;
        }

        var start = stackPointer & ~7UL;
        var words = new byte[(int)Math.Min(mapping.End - start, MaxBytes)];
        memory.Read(start, words);
        for (var offset = 0; offset + sizeof(ulong) <= words.Length; offset += sizeof(ulong))
        {
            if (match(BinaryPrimitives.ReadUInt64LittleEndian(words.AsSpan(offset))))
            {
                return true;
            }
        }

        return words.Length == MaxBytes;
    }
}
