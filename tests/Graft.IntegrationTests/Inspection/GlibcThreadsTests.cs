using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;
using Graft.Linux.Tracing;

namespace Graft.IntegrationTests.Inspection;

/// <summary>
/// glibc's thread list, read while the threads run (<see cref="GlibcThreads"/>), against what each thread shows once
/// stopped: every thread is listed, with the thread pointer ptrace reads as its fs_base, and the stack bounds hold its sp.
/// </summary>
public sealed class GlibcThreadsTests
{
    [Fact]
    public void EveryThreadIsListedWithItsOwnThreadPointerAndAStackThatHoldsItsSp()
    {
        using var waiters = RunningFixture.Start("waiters");

        PtraceThread.Run(() =>
        {
            using var tracee = Tracee.Seize(waiters.Pid);
            var threads = GlibcThreads.Read(ModuleMap.Read(waiters.Pid, tracee.Memory), tracee.Memory, tracee.ThreadIds);
            var mappings = ProcessMaps.Read(waiters.Pid);

            Assert.NotNull(threads);
            Assert.Equal(tracee.ThreadIds.Order(), threads.Select(t => t.Tid).Order());
            foreach (var thread in threads)
            {
                Assert.True(tracee.Stop(thread.Tid, "test"));
                var registers = tracee.GetRegisters(thread.Tid);
                tracee.Resume(thread.Tid);

                Assert.Equal(registers.fs_base, thread.ThreadPointer);
                Assert.Equal(thread.Tid != waiters.Pid, thread.StackFromGlibc);
                var stack = GlibcThreads.Stack(thread, waiters.Pid, mappings);
                Assert.NotNull(stack);
                Assert.InRange(registers.rsp, stack.Value.Low, stack.Value.High - 1);
            }
        });
    }

    [Fact]
    public void AThreadOnAStackTheProgramGaveHasNoBounds()
    {
        var thread = new GlibcThread(Tid: 1235, ThreadPointer: 0x7f00_0010_0000, StackFromGlibc: false);
        MemoryMapping[] mappings = [new(0x7f00_0000_0000, 0x7f00_0020_0000, "rw-p", 0, 0, "")];

        Assert.Null(GlibcThreads.Stack(thread, 1234, mappings));
        Assert.Equal((0x7f00_0000_0000UL, 0x7f00_0010_0000UL), GlibcThreads.Stack(thread with { StackFromGlibc = true }, 1234, mappings));
    }
}
