using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// docs/ARCHITECTURE.md's invariant 3 under load: while a fixture takes a steady stream of queued signals and
/// its other threads sit in read, nanosleep and accept, many apply/revert cycles lose no signal,
/// cause no EINTR and no crash.
/// </summary>
[Trait(Traits.Category, Traits.Stress)]
public sealed class SignalStressTests
{
    private const int Cycles = 200;

    [Fact]
    public void ApplyRevertCyclesLoseNoSignalAndCauseNoEintr()
    {
        var stopFile = Path.Combine(Path.GetTempPath(), $"graft-signals-stop-{Guid.NewGuid():N}");
        using var fixture = RunningFixture.Start("signals", stopFile);
        var patcher = new NoticeLog().NewPatcher();
        var timeout = TimeSpan.FromSeconds(15);

        for (var cycle = 0; cycle < Cycles; cycle++)
        {
            try
            {
                patcher.Apply(fixture.Pid, Repository.Patch("signals_work"), timeout);
                if (cycle == 0)
                {
                    fixture.NextLine(l => l.EndsWith("describe=new", StringComparison.Ordinal));
                }

                patcher.Revert(fixture.Pid, "signals-work", timeout);
            }
            catch (GraftException e) when (!fixture.IsAlive)
            {
                Assert.Fail($"signals exited in cycle {cycle} ({e.Message}); its last lines:\n{string.Join('\n', fixture.Lines().TakeLast(3))}");
            }
        }

        fixture.NextLine(l => l.EndsWith("describe=old", StringComparison.Ordinal));
        File.WriteAllText(stopFile, "");
        var final = fixture.WaitForLine(l => l.StartsWith("final ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        File.Delete(stopFile);

        var counts = final.Split(' ').Skip(1).Select(f => f.Split('=')).ToDictionary(p => p[0], p => long.Parse(p[1]));
        Assert.True(fixture.IsAlive);
        Assert.True(counts["sent"] > 0, final);
        Assert.Equal(counts["sent"], counts["received"]);
        Assert.Equal(0, counts["eintr"]);
    }
}
