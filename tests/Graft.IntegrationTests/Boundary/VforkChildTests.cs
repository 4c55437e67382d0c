using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// A vfork child runs in the target's memory while graft rewrites its code: graft holds it as
/// a thread until it leaves (exec or exit), so none dies of an int3 graft left for a moment.
/// </summary>
public sealed class VforkChildTests
{
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void VforkChildrenRunningThePatchedFunctionSurviveAppliesAndReverts(ConsistencyModel model)
    {
        using var vforker = RunningFixture.Start("vforker");

        Ticks.CycleDescribe(vforker, 10, model);

        var last = vforker.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));
        Assert.True(long.Parse(Field(last, "children")) > 0, last);
        Assert.Equal("0", Field(last, "died"));
        Assert.True(vforker.IsAlive);
    }

    /// <summary>
    /// A child vforked before graft attached is not traced (PTRACE_O_TRACEVFORK follows only the
    /// vforks made since) and runs describe() throughout: graft waits for it to leave the
    /// process's memory before it writes an int3 there, rather than kill it with one.
    /// </summary>
    [Fact]
    public void AVforkChildFromBeforeGraftAttachedIsWaitedForBeforeCodeIsWritten()
    {
        using var vforker = RunningFixture.Start("vforker", "300");
        vforker.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));

        Ticks.CycleDescribe(vforker, 2);

        var last = vforker.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));
        Assert.True(long.Parse(Field(last, "children")) > 0, last);
        Assert.Equal("0", Field(last, "died"));
        Assert.True(vforker.IsAlive);
    }

    private static string Field(string line, string name) =>
        line.Split(' ').Single(f => f.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
}
