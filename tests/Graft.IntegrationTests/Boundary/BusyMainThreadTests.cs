using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// graft's injected dlopen, and the dlclose of a rollback, run on the main thread even while it is
/// busy in the C library most of the time: its allocations go to malloc's main arena. On a worker
/// that never allocated they would create that thread's arena, 64 MiB of address space glibc
/// never gives back, and a refused apply would leave the process changed. Where the main thread
/// cannot run them, graft says which arena it left.
/// </summary>
public sealed class BusyMainThreadTests
{
    [Fact]
    public void ARefusedApplyLeavesNoMallocArenaWhenTheMainThreadIsBusyInTheCLibrary()
    {
        // The workers never leave hot() and never allocate; the main thread is inside memset
        // almost all the time. A stop-world apply finds no safe moment and is rolled back.
        using var hot = RunningFixture.Start("hot", "2", "100000", "0", "busy");
        var (before, _) = RefusedApply(hot);

        before.AssertUnchanged(hot.Pid);
        Assert.True(hot.IsAlive);
    }

    [Fact]
    public void ARefusedApplyNamesTheMallocArenaItLeavesWhenTheMainThreadWaitsInPthreadJoin()
    {
        // The main thread waits in pthread_join, a futex that may last: graft's calls run on a
        // worker, which never allocated. Its dlopen and the rollback's dlclose give it an arena.
        using var hot = RunningFixture.Start("hot", "2", "100000", "0", "join");
        var (before, stderr) = RefusedApply(hot);

        var arenas = ArenaWarnings.In(stderr.Split('\n'));
        Assert.NotEmpty(arenas);
        before.AssertUnchangedBesides(hot.Pid, arenas);
        Assert.Equal(3, Directory.GetDirectories($"/proc/{hot.Pid}/task").Length);
        Assert.True(hot.IsAlive);
    }

    /// <summary>A stop-world apply that finds no safe moment (every worker stays in hot()) and is rolled back: the process as it was before, and graft's stderr.</summary>
    private static (TargetText Before, string Stderr) RefusedApply(RunningFixture hot)
    {
        var before = TargetText.Read(hot.Pid);
        var result = Shell.Graft(
            "apply", hot.Pid.ToString(), Repository.Patch("hot_new"), "--consistency", "stop-world", "--timeout", "2");
        Assert.Equal(3, result.ExitCode);
        return (before, result.Stderr);
    }
}
