using Graft.IntegrationTests.Support;
using Graft.Linux.Inspection;

namespace Graft.IntegrationTests.Inspection;

/// <summary>A thread's run time as graft's settle reads it, against the schedstat file itself.</summary>
public sealed class TaskFilesTests
{
    [Fact]
    public void RunTimeIsTheFirstFieldOfSchedstatAndGrowsWhileTheThreadRuns()
    {
        using var spin = RunningFixture.Start("spin");
        var tid = spin.Pid;

        var first = TaskFiles.RunTime(spin.Pid, tid);
        var file = ulong.Parse(File.ReadAllText($"/proc/{spin.Pid}/task/{tid}/schedstat").Split(' ')[0]);
        var later = TaskFiles.RunTime(spin.Pid, tid);

        Assert.NotNull(first);
        Assert.InRange(file, first.Value, later!.Value);
        Thread.Sleep(50);
        Assert.True(TaskFiles.RunTime(spin.Pid, tid) > later, "the run time of a thread that spins did not grow in 50 ms");
        Assert.Null(TaskFiles.RunTime(spin.Pid, int.MaxValue));
    }
}
