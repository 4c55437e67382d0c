using Graft.IntegrationTests.Support;
using Graft.Linux.Tracing;
using Graft.Model.State;
using Graft.Patching;
using Graft.Patching.Operations;

namespace Graft.IntegrationTests.Libraries;

/// <summary>
/// Patches stacked on functions of the main executable (a) and of a library (b)
/// keep one order everywhere, whenever the library comes, even while patches are being
/// applied and reverted as it loads and unloads.
/// </summary>
public sealed class LibraryStackingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>P1, P2, P3 applied, then module M loads: it gets b3 on top, used with a3, never b2 with a3.</summary>
    [Fact]
    public void ALibraryLoadedAfterThreeStackedPatchesGetsThemInTheOrderTheyWereApplied()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = new WatchedFixture(host.Pid, log);
        foreach (var level in new[] { 1, 2, 3 })
        {
            graftd.Apply(Repository.Patch($"stack_p{level}"), Timeout);
        }

        log.Take();
        host.Send("load libstackmod.so", "loaded");
        Assert.Equal("call b3+host-p3", host.Send("call libstackmod.so stack_b", "call"));
        Assert.Equal(
            [
                "graft: applying patch 'stack-p1' to loading module 'libstackmod.so'",
                "graft: applying patch 'stack-p2' to loading module 'libstackmod.so'",
                "graft: applying patch 'stack-p3' to loading module 'libstackmod.so'",
            ],
            log.Take());
        AssertStacksInOrder(host.Pid);

        // Reverts follow the stack in the library too.
        graftd.Revert("stack-p3", Timeout);
        Assert.Equal("call b2+host-p2", host.Send("call libstackmod.so stack_b", "call"));
        AssertStacksInOrder(host.Pid);
    }

    /// <summary>
    /// Applies racing a library's loads and unloads: it is loaded and unloaded 500 times, as
    /// fast as the target can, while P3 is applied and reverted on top of P1 and P2 over and
    /// over. Each call of b() runs with b() on its stack, so its thread cannot switch in the
    /// middle: only b2 with a2 and b3 with a3 may ever be seen. Nothing crashes, and at the end
    /// every function's entry jumps to the newest patch on its stack.
    /// </summary>
    [Fact]
    [Trait(Traits.Category, Traits.Stress)]
    public void PatchesAppliedAndRevertedWhileALibraryComesAndGoesKeepTheStacksInOrder()
    {
        const int Cycles = 500;
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment);
        using var graftd = new WatchedFixture(host.Pid, log);
        graftd.Apply(Repository.Patch("stack_p1"), Timeout);
        graftd.Apply(Repository.Patch("stack_p2"), Timeout);

        host.Write($"cycle libstackmod.so stack_b {Cycles}");
        var toggles = 0;
        while (!host.Lines().Any(l => l.StartsWith("cycled", StringComparison.Ordinal)))
        {
            Assert.True(host.IsAlive, "modhost died while patches and the library came and went");
            graftd.Apply(Repository.Patch("stack_p3"), Timeout);
            graftd.Revert("stack-p3", Timeout);
            toggles++;
        }

        var cycled = host.Lines().Single(l => l.StartsWith("cycled", StringComparison.Ordinal)).Split(' ');
        Assert.Equal(Cycles.ToString(), cycled[1]);
        var results = cycled[2..].Select(r => r.Split('=')).ToDictionary(r => r[0], r => int.Parse(r[1]));
        Assert.Equal(Cycles, results.Values.Sum());
        Assert.Subset(new HashSet<string> { "b2+host-p2", "b3+host-p3" }, results.Keys.ToHashSet());
        Assert.True(toggles >= 1, $"no apply/revert round ran during the {Cycles} loads");
        Assert.DoesNotContain(log.Take(), l => l.StartsWith("graft: error", StringComparison.Ordinal));

        graftd.Apply(Repository.Patch("stack_p3"), Timeout);
        host.Send("load libstackmod.so", "loaded");
        Assert.Equal("call b3+host-p3", host.Send("call libstackmod.so stack_b", "call"));
        AssertStacksInOrder(host.Pid);
    }

    /// <summary>Every replaced function's entry jumps to the newest patch on its stack (or that patch's slot, out of rel32 reach).</summary>
    private static void AssertStacksInOrder(int pid)
    {
        var state = Patcher.List(pid);
        using var memory = new RemoteMemory(pid);
        foreach (var function in state.Patches.SelectMany(p => p.Functions).DistinctBy(f => f.Address))
        {
            var top = state.Patches.Last(p => p.Functions.Any(f => f.Address == function.Address)).Functions.Single(f => f.Address == function.Address);
            var entry = memory.Read(top.PatchAddress, 5);
            Assert.Equal(0xe9, entry[0]);
            var target = top.PatchAddress + 5 + (ulong)(long)BitConverter.ToInt32(entry, 1);
            Assert.Contains(target, new[] { top.NewFunction, top.Slot });
        }

        Assert.All(state.Patches, p => Assert.Equal(PatchPhase.Patched, p.Phase));
    }
}
