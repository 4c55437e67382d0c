using Graft.Linux.Unwinding;

namespace Graft.Patching.Tests.Unwinding;

/// <summary>
/// Which lines of /proc's task syscall file <see cref="SleepingThreadStacks"/> takes for a thread asleep on its own
/// stack. A thread in exit or exit_group is not one: its stack may already be a new thread's (see TryParseSleep).
/// </summary>
public sealed class SleepingThreadLineTests
{
    [Theory]
    [InlineData("7 0x7ffd1c2e8a10 0x1 0xffffffff 0x0 0x0 0x0 0x7ffd1c2e89f8 0x7f3b0e4d1a3d", 0x7ffd1c2e89f8, 0x7f3b0e4d1a3d)]
    [InlineData("202 0x55d0c0a0 0x80 0x2 0x0 0x0 0x0 0x7f3b0d7fed50 0x7f3b0e45e0b9", 0x7f3b0d7fed50, 0x7f3b0e45e0b9)]
    public void AThreadAsleepInACallThatReturnsGivesItsStackPointerAndPc(string line, ulong sp, ulong pc)
    {
        Assert.True(SleepingThreadStacks.TryParseSleep(line, out var parsedSp, out var parsedPc));
        Assert.Equal((sp, pc), (parsedSp, parsedPc));
    }

    [Theory]
    [InlineData("60 0x0 0x0 0x0 0x0 0x0 0x0 0x7f3b0d7fee40 0x7f3b0e4570c7")]
    [InlineData("231 0x0 0xe7 0x3c 0x0 0x0 0x0 0x7ffd1c2e8b78 0x7f3b0e4c4f2d")]
    [InlineData("-1 0x7f3b0d7fee40 0x7f3b0e4570c7")]
    [InlineData("running")]
    public void AThreadInExitRunningOrInNoSystemCallIsNotAsleepOnItsStack(string line)
    {
        Assert.False(SleepingThreadStacks.TryParseSleep(line, out _, out _));
    }
}
