using Graft.IntegrationTests.Support;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Patching;

/// <summary>
/// Shadow variables attached to objects already in flight: accounts created before any patch
/// get a lock and a deposit counter as shadow variables the first time the patched deposit()
/// meets them; a cumulative patch keeps using the same variables, and its revert frees them.
/// </summary>
public sealed class ShadowVariableTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);

    [Fact]
    public void ShadowLocksOnLiveObjectsStopLostUpdatesAndACumulativePatchKeepsThem()
    {
        using var log = new CallbackLog();
        using var accounts = RunningFixture.StartWithInput("accounts", log.Environment);
        var patcher = log.NewPatcher();

        // Unpatched, concurrent deposits to one account lose updates: the test can see a bug.
        var first = Audit(accounts);
        Thread.Sleep(Settle);
        Assert.True(Audit(accounts).Lost > first.Lost, "the unpatched fixture loses deposits");

        ApplyWhileAuditing(accounts, () => patcher.Apply(accounts.Pid, Repository.Patch("accounts_lock"), Timeout));
        AssertNoDepositLost(accounts);

        ApplyWhileAuditing(accounts, () => patcher.Apply(accounts.Pid, Repository.Patch("accounts_lock_v2"), Timeout));
        Assert.Contains("accounts-lock-v2: post_patch_callback: main locks-found=8", log.Take());
        Assert.Equal(["accounts-lock-v2"], Patcher.List(accounts.Pid).Patches.Select(p => p.Name));
        AssertNoDepositLost(accounts);

        ApplyWhileAuditing(accounts, () => patcher.Revert(accounts.Pid, "accounts-lock-v2", Timeout));
        var freed = Assert.Single(log.Take(), l => l.StartsWith("accounts-lock-v2: post_unpatch_callback: main freed", StringComparison.Ordinal));
        Assert.StartsWith("accounts-lock-v2: post_unpatch_callback: main freed locks=8 counters=8 deposits=", freed);
        var counted = long.Parse(freed.Split("deposits=")[1]);
        Assert.InRange(counted, 1, Audit(accounts).Deposits - first.Deposits);

        var after = Audit(accounts);
        Thread.Sleep(Settle);
        Assert.True(Audit(accounts).Lost > after.Lost, "reverted, deposits race again");
    }

    /// <summary>
    /// The workers spend nearly all their time inside deposit(), where no thread can switch; an
    /// audit parks them all between two deposits for a moment, which is when the sweeps catch
    /// them, as a server's idle moments let a kernel livepatch transition finish.
    /// </summary>
    private static void ApplyWhileAuditing(RunningFixture accounts, Func<OperationReport> operation)
    {
        var running = Task.Run(operation);
        while (!running.IsCompleted)
        {
            Audit(accounts);
        }

        Assert.Null(running.Result.InFlight);
    }

    /// <summary>Two audits apart: no deposit made in between was lost.</summary>
    private static void AssertNoDepositLost(RunningFixture accounts)
    {
        var before = Audit(accounts);
        Thread.Sleep(Settle);
        var after = Audit(accounts);
        Assert.True(after.Deposits > before.Deposits, "the workers kept depositing");
        Assert.Equal(before.Lost, after.Lost);
    }

    /// <summary>"audit deposits=&lt;n&gt; lost=&lt;n&gt;", taken with every worker parked between two deposits.</summary>
    private static (long Deposits, long Lost) Audit(RunningFixture accounts)
    {
        var fields = accounts.Send("audit", "audit ").Split(' ');
        return (long.Parse(fields[1]["deposits=".Length..]), long.Parse(fields[2]["lost=".Length..]));
    }
}
