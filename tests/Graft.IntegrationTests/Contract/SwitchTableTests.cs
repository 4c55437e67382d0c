using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Contract;

/// <summary>
/// switcher: run()'s loop head, 3 bytes in, is reached only through its switch's jump table. The jump would cover it:
/// graft refuses, naming the case, and the target's code is as it was (it used to apply, and the next op 2 jumped into
/// the middle of the jump).
/// </summary>
public sealed class SwitchTableTests
{
    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void ACaseInsideTheBytesTheJumpCoversRefusesTheFunction(ConsistencyModel model)
    {
        using var switcher = RunningFixture.Start("switcher");
        var before = TargetText.Read(switcher.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(switcher.Pid, Repository.Patch("switcher_new"), TimeSpan.FromSeconds(5), model: model));

        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Equal("cannot patch 'run' in switcher: a case of a switch's jump table goes to +0x3, inside the 6 bytes to be rewritten (+0x0..+0x6)",
            refusal.Message);
        before.AssertUnchanged(switcher.Pid);
        var tick = switcher.NextLine(l => l.StartsWith("tick ", StringComparison.Ordinal));
        Assert.Equal($"value={Ticks.Number(tick) + 3}", Ticks.Field(tick, 2));
    }
}
