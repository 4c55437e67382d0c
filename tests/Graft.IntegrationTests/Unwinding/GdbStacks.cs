using System.Globalization;

using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>One machine frame as gdb sees it.</summary>
internal sealed record GdbFrame(ulong Pc, bool IsSignalTrampoline, string Name);

/// <summary>One thread's stack as gdb unwinds it, innermost frame first.</summary>
internal sealed record GdbStack(int Tid, IReadOnlyList<GdbFrame> Frames, string StopReason)
{
    /// <summary>gdb's words for a walk that ended where the unwind tables say the stack ends.</summary>
    public const string Outermost = "outermost";

    private static string Script => Path.Combine(Repository.Root, "tests", "Graft.IntegrationTests", "Unwinding", "gdb_frames.py");

    /// <summary>Attaches gdb to the process, unwinds every thread with gdb_frames.py, detaches.</summary>
    public static IReadOnlyDictionary<int, GdbStack> ReadAll(int pid)
    {
        // past-main and past-entry: by default gdb hides the frames below main (libc's start
        // code, _start), which a reliable unwinder must walk through.
        var result = Shell.Run(
            "gdb", "-p", pid.ToString(CultureInfo.InvariantCulture), "-batch", "-nx",
            "-ex", "set debuginfod enabled off",
            "-ex", "set backtrace past-main on",
            "-ex", "set backtrace past-entry on",
            "-x", Script);
        var stacks = result.Stdout.Split('\n')
            .Where(line => line.StartsWith("frames\t", StringComparison.Ordinal))
            .Select(Parse)
            .ToDictionary(stack => stack.Tid);
        Assert.True(stacks.Count > 0, $"gdb printed no stacks for process {pid} (exit code {result.ExitCode}):\n{result.Stdout}\n{result.Stderr}");
        return stacks;
    }

    private static GdbStack Parse(string line)
    {
        var fields = line.Split('\t');
        var frames = fields[3..].Select(frame => frame.Split(' ', 3))
            .Select(parts => new GdbFrame(ulong.Parse(parts[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture), parts[1] == "sigtramp", parts[2]))
            .ToList();
        return new GdbStack(int.Parse(fields[1], CultureInfo.InvariantCulture), frames, fields[2]);
    }
}
