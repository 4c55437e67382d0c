using System.Text;

using Graft.Linux.Unwinding;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>Graft's and gdb's unwind of one thread, side by side.</summary>
internal sealed record StackComparison(ThreadStack Graft, GdbStack Gdb, Func<ulong, string> Symbolize)
{
    /// <summary>
    /// gdb's pc of a frame is the return address, except for the innermost frame and the frame a
    /// signal interrupted, where it is the exact pc: so Graft's IsExact must be true exactly there.
    /// </summary>
    private IReadOnlyList<(ulong Pc, bool IsExact)> Expected =>
        Gdb.Frames.Select((frame, i) => (frame.Pc, i == 0 || Gdb.Frames[i - 1].IsSignalTrampoline)).ToList();

    private IReadOnlyList<(ulong Pc, bool IsExact)> Actual => Graft.Frames.Select(frame => (frame.Pc, frame.IsExact)).ToList();

    public bool Agree => Graft.IsReliable && Gdb.StopReason == GdbStack.Outermost && Actual.SequenceEqual(Expected);

    public override string ToString()
    {
        var text = new StringBuilder()
            .AppendLine($"thread {Graft.Tid}: Graft says {(Graft.IsReliable ? "reliable" : $"unreliable ({Graft.UnreliableReason})")}, gdb stopped with \"{Gdb.StopReason}\"")
            .AppendLine("    #  Graft (pc, exact, Graft's symbol)                                  | gdb (pc, exact, gdb's name)");
        var expected = Expected;
        var actual = Actual;
        for (var i = 0; i < Math.Max(actual.Count, expected.Count); i++)
        {
            var graft = i < actual.Count ? $"0x{actual[i].Pc:x} {(actual[i].IsExact ? "exact" : "ret")} {Symbolize(actual[i].Pc)}" : "-";
            var gdb = i < expected.Count ? $"0x{expected[i].Pc:x} {(expected[i].IsExact ? "exact" : "ret")} {Gdb.Frames[i].Name}{(Gdb.Frames[i].IsSignalTrampoline ? " [signal trampoline]" : "")}" : "-";
            var same = i < actual.Count && i < expected.Count && actual[i] == expected[i];
            text.AppendLine($"  {(same ? ' ' : '!')} {i,2} {graft,-70} | {gdb}");
        }

        return text.ToString();
    }
}
