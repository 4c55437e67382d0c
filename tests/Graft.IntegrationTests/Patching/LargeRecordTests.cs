using Graft.IntegrationTests.Support;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// The state record does not limit what a user can do (issue 15, goal 6): it lives in a region of
/// its own, not in the state mapping.
/// </summary>
public sealed class LargeRecordTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void SixThousandFunctionPatchesStackAndRevertInOrder()
    {
        // Each wide_pL replaces all 1,000 functions of wide and records about 500 KB of them:
        // graft of GRAFTST4, with about 1.9 MB a half, refused the fourth ("graft's state record
        // would grow to 2080217 bytes, over its 1941504-byte limit").
        using var wide = RunningFixture.Start("wide");
        var original = TargetText.Read(wide.Pid);
        var patcher = new NoticeLog().NewPatcher();
        Ticks.Next(wide, 2, "502500");

        foreach (var level in Enumerable.Range(1, 6))
        {
            patcher.Apply(wide.Pid, Repository.Patch($"wide_p{level}"), Timeout);
            Ticks.Next(wide, 2, $"{502500 + (1000000 * level)}");
        }

        var stacked = Patcher.List(wide.Pid);
        Assert.Equal(["wide-p1", "wide-p2", "wide-p3", "wide-p4", "wide-p5", "wide-p6"], stacked.Patches.Select(p => p.Name));
        Assert.All(stacked.Patches, p => Assert.Equal(1000, p.Functions.Count));

        foreach (var level in Enumerable.Range(1, 6).Reverse())
        {
            patcher.Revert(wide.Pid, $"wide-p{level}", Timeout);
            Ticks.Next(wide, 2, $"{502500 + (1000000 * (level - 1))}");
        }

        Assert.True(wide.IsAlive);
        original.AssertCodeUnchanged(wide.Pid);
    }
}
