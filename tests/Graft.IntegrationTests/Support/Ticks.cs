using Graft.Patching;

namespace Graft.IntegrationTests.Support;

/// <summary>Reads the counter and blocker fixtures' "tick &lt;n&gt; &lt;describe&gt; ..." lines.</summary>
internal static class Ticks
{
    public static long Number(string line) => long.Parse(line.Split(' ')[1]);

    public static string Field(string line, int index) => line.Split(' ')[index];

    /// <summary>Waits for a tick printed after now whose field matches; returns the line.</summary>
    public static string Next(RunningFixture fixture, int field, string value) =>
        fixture.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal) && Field(l, field) == value);

    /// <summary>Applies and reverts describe_new (describe: "old" → "new"), waiting each time for the fixture to print the change.</summary>
    public static void CycleDescribe(RunningFixture fixture, int cycles, ConsistencyModel model = ConsistencyModel.PerThread)
    {
        var patcher = new NoticeLog().NewPatcher();
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            Assert.Null(patcher.Apply(fixture.Pid, Repository.Patch("describe_new"), TimeSpan.FromSeconds(15), model: model).InFlight);
            Next(fixture, 2, "new");
            Assert.Null(patcher.Revert(fixture.Pid, "describe-new", TimeSpan.FromSeconds(15), model: model).InFlight);
            Next(fixture, 2, "old");
        }
    }
}
