using Graft.Elf;
using Graft.X86.Contract;

namespace Graft.Patching.Contract;

/// <summary>
/// Works out a function's <see cref="FunctionContract"/> from an object's file, as its callers' compiler saw it: the
/// registers written by the function's own bodies (its FDE ranges, so a <c>foo.cold</c> part counts) and, transitively,
/// by every body its direct calls and jumps reach in the same object. A call or jump the analysis cannot follow (the
/// PLT, an indirect call, an indirect tail call, code with no unwind entry or symbol) counts as changing every
/// caller-saved register and needing an aligned stack, which is what the ABI lets such code do. Bodies are read from the
/// file, never from the process, so earlier patches' jumps are not mistaken for the code callers were built against.
/// </summary>
internal sealed class ContractAnalysis(ElfFile elf)
{
    // A function reaching this many bodies is taken to reach everything; it has, in practice, long since reached the PLT.
    private const int MaxBodies = 4096;
    private const int MaxBodySize = 1 << 20;

    private readonly Dictionary<ulong, BodyEffects?> bodies = [];
    private readonly FunctionRanges ranges = new(elf);

    public FunctionContract Of(ulong fileAddress)
    {
        RegisterSet clobbers = default;
        bool aligned = false;
        bool sideEffects = false;
        string? unfollowed = null;
        var seen = new HashSet<ulong>();
        var pending = new Queue<ulong>();
        Enqueue(fileAddress);
        while (pending.Count > 0 && unfollowed is null)
        {
            ulong start = pending.Dequeue();
            if (seen.Count > MaxBodies)
            {
                unfollowed ??= $"it reaches more than {MaxBodies} functions";
                break;
            }

            if (Body(start) is not { } body)
            {
                unfollowed ??= $"its code at 0x{start:x} cannot be read from the file";
                break;
            }

            clobbers |= body.Written;
            aligned |= body.AlignedStackAccess;
            sideEffects |= body.WritesMemory || body.Calls.Count > 0;
            if (body.Unfollowable is { } why)
            {
                unfollowed ??= why;
            }

            foreach (ulong target in body.Calls.Concat(body.Exits))
            {
                Enqueue(target);
            }
        }

        return unfollowed is null
            ? new FunctionContract(clobbers, aligned, null, sideEffects)
            : new FunctionContract(RegisterSet.CallerSaved, true, unfollowed, true);

        void Enqueue(ulong address)
        {
            if (ranges.Find(address) is not { } range)
            {
                unfollowed ??= $"it reaches 0x{address:x}, which has no unwind entry or symbol";
            }
            else if (seen.Add(range.Start))
            {
                pending.Enqueue(range.Start);
            }
        }
    }

    /// <summary>The effects of the body starting at <paramref name="start"/> (a start <see cref="FunctionRanges"/> gave).</summary>
    public BodyEffects? Body(ulong start)
    {
        if (bodies.TryGetValue(start, out BodyEffects? known))
        {
            return known;
        }

        BodyEffects? effects = null;
        if (ranges.Find(start) is { } range && range.End - range.Start <= MaxBodySize)
        {
            byte[] code = new byte[range.End - range.Start];
            effects = elf.TryReadAtAddress(range.Start, code) ? BodyAnalyzer.Analyze(code, range.Start) : null;
        }

        bodies[start] = effects;
        return effects;
    }
}
