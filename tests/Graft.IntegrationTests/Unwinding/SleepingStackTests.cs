using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;
using Graft.Linux.Unwinding;

namespace Graft.IntegrationTests.Unwinding;

/// <summary>
/// The stack of a thread asleep in a system call, read without stopping it
/// (<see cref="SleepingThreadStacks"/>), is the stack the same thread shows once stopped; a
/// thread that runs gives none, so the caller stops it instead.
/// </summary>
public sealed class SleepingStackTests
{
    // The calls waiters.c sleeps in for good (its epoll_pwait is shared with the thread a
    // signal wakes every 2 ms, and nanosleep by clock_nanosleep with the ticker: both left out).
    private static readonly HashSet<long> CallsNeverWoken = [0, 7, 23, 35, 43, 128, 202, 232, 441];

    [Fact]
    public void AThreadAsleepInASystemCallShowsTheStackItHasWhenStopped()
    {
        using var waiters = RunningFixture.Start("waiters");

        var compared = PtraceThread.Run(() =>
        {
            using var tracee = Tracee.Seize(waiters.Pid);
            using var sleeping = new SleepingThreadStacks(waiters.Pid);
            var unwinder = new StackUnwinder(ModuleMap.Read(waiters.Pid, tracee.Memory), tracee.Memory);
            var count = 0;
            foreach (var tid in tracee.ThreadIds.Where(t => CallsNeverWoken.Contains(SystemCall(waiters.Pid, t))).ToList())
            {
                var asleep = sleeping.TryRead(tid, unwinder);
                Assert.True(tracee.Stop(tid, "test"));
                var stopped = unwinder.Unwind(tid, tracee.GetRegisters(tid));
                tracee.Resume(tid);

                Assert.NotNull(asleep);
                Assert.True(stopped.IsReliable, stopped.UnreliableReason);
                Assert.Equal(stopped.Frames.Select(f => (f.Pc, f.Cfa)), asleep.Frames.Select(f => (f.Pc, f.Cfa)));
                count++;
            }

            return count;
        });

        Assert.True(compared >= CallsNeverWoken.Count, $"{compared} threads compared");
    }

    [Fact]
    public void AThreadThatRunsGivesNoStack()
    {
        using var spin = RunningFixture.Start("spin");

        var stacks = PtraceThread.Run(() =>
        {
            using var tracee = Tracee.Seize(spin.Pid);
            using var sleeping = new SleepingThreadStacks(spin.Pid);
            var unwinder = new StackUnwinder(ModuleMap.Read(spin.Pid, tracee.Memory), tracee.Memory);
            return Enumerable.Range(0, 100).Select(_ => sleeping.TryRead(spin.Pid, unwinder)).ToList();
        });

        Assert.All(stacks, Assert.Null);
    }

    /// <summary>The number of the system call the thread is in, from /proc; -1 if it is in none.</summary>
    private static long SystemCall(int pid, int tid) =>
        long.TryParse(File.ReadAllText($"/proc/{pid}/task/{tid}/syscall").Split(' ')[0], out var number) ? number : -1;
}
