using System.Globalization;

using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>
/// A stack the unwind tables do not describe is reported unreliable, naming the frame that broke
/// the walk (gdb, by contrast, walks through both with its prologue heuristics).
/// </summary>
public sealed class UnreliableStackTests
{
    // read_loop in unwalkable.c: mov $1,%edx (5 bytes); xor %eax,%eax (2); syscall (2).
    private const ulong AfterSyscall = 9;

    // A thread blocked in a syscall is described by the syscall instruction itself.
    private const ulong AtSyscall = AfterSyscall - 2;

    [Fact]
    public void ThreadsBlockedInCodeWithoutUnwindInformationAreUnreliable()
    {
        using var program = CProgram.Compile("Unwinding/unwalkable.c", "-O2", "-g", "-pthread", "-I", Path.Combine(Repository.Root, "tests", "fixtures"));
        using var running = RunningFixture.StartProgram(program.Path);
        var ready = running.ReadyLine.Split(' ');
        var page = ulong.Parse(ready[2].AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        var inPage = int.Parse(ready[3], CultureInfo.InvariantCulture);
        var inFunction = int.Parse(ready[4], CultureInfo.InvariantCulture);

        var stacks = GraftStacks.Read(running.Pid).Stacks;

        var anonymous = stacks[inPage];
        Assert.False(anonymous.IsReliable, anonymous.ToString());
        Assert.Equal(page + AfterSyscall, Assert.Single(anonymous.Frames).Pc);
        Assert.Contains($"0x{page + AfterSyscall:x} is not in any mapped object", anonymous.UnreliableReason);

        var withoutCfi = stacks[inFunction];
        Assert.False(withoutCfi.IsReliable, withoutCfi.ToString());
        Assert.Equal("unwalkable", Assert.Single(withoutCfi.Frames).Module?.FileName);
        Assert.Contains($"no unwind information for read_without_cfi+0x{AtSyscall:x} in unwalkable", withoutCfi.UnreliableReason);

        // The main thread, in pthread_join, is described all the way down.
        Assert.True(stacks[running.Pid].IsReliable, stacks[running.Pid].ToString());
    }
}
