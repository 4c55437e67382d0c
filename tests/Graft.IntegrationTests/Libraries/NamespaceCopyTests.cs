using System.Globalization;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Libraries;

/// <summary>
/// A library that dlmopen loads into a new namespace: a copy of its own, with its own C library, beside the one dlopen
/// loads. A patch runs in the program's namespace, and the record keeps one copy of each object, so graft patches a
/// library loaded once, in that namespace: an apply is refused while there are two copies or only a foreign one, and
/// a copy that comes under an applied patch is left alone, as is the patched copy when the other one goes. Before,
/// graft patched whichever copy the map listed first (the new namespace's, mapped lower) and said the apply was done
/// while the program's own copy ran the old code.
/// </summary>
public sealed class NamespaceCopyTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true, @"libcbmod\.so is loaded more than once in process {0}, at 0x[0-9a-f]+ and 0x[0-9a-f]+ \(dlmopen loads a library again in each namespace\)")]
    [InlineData(false, @"libcbmod\.so is loaded in process {0} only in a namespace of its own \(dlmopen\), at 0x[0-9a-f]+")]
    public void AnApplyToALibraryOutsideTheProgramsNamespaceOrLoadedTwiceIsRefusedAndChangesNothing(bool alsoInTheProgramsNamespace, string why)
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, alsoInTheProgramsNamespace ? ["libcbmod.so"] : []);
        host.Send("load ns:libcbmod.so", "loaded");
        var before = TargetText.Read(host.Pid);

        var result = Shell.Graft("apply", host.Pid.ToString(), Repository.Patch("mod_describe_new"));

        Assert.Equal(2, result.ExitCode);
        Assert.Matches(
            $"^graft: error: {string.Format(CultureInfo.InvariantCulture, why, host.Pid)}: graft patches a library loaded once, in the program's namespace$",
            result.Stderr.Trim());
        before.AssertUnchanged(host.Pid);
        Assert.Equal("call mod-old", host.Send("call ns:libcbmod.so mod_describe", "call"));
    }

    [Fact]
    public void ACopyComingAndGoingInAnotherNamespaceLeavesThePatchedCopyAsItIs()
    {
        using var log = new CallbackLog();
        using var host = RunningFixture.StartWithInput("modhost", log.Environment, "libcbmod.so");
        log.Take();
        using var graftd = new WatchedFixture(host.Pid, log);
        graftd.Apply(Repository.Patch("mod_describe_new"), Timeout);
        log.Take();
        Assert.Equal("describe host-old mod-new", host.Send("describe", "describe"));

        host.Send("load ns:libcbmod.so", "loaded");
        var came = log.Take();
        Assert.Equal(2, came.Count);
        Assert.Matches(
            $@"^graft: patch 'mod-describe-new' failed for module 'libcbmod\.so' \(libcbmod\.so is loaded more than once in process {host.Pid}, at 0x[0-9a-f]+ and 0x[0-9a-f]+ \(dlmopen loads a library again in each namespace\): graft patches a library loaded once, in the program's namespace\), leaving module 'libcbmod\.so' loaded without any patch$",
            came[0]);
        Assert.Equal("libcbmod: cbmod_init", came[1]);
        Assert.Equal("call mod-old", host.Send("call ns:libcbmod.so mod_describe", "call"));
        Assert.Equal("describe host-old mod-new", host.Send("describe", "describe"));

        // The going copy is not the one the record names: the patched copy stays patched, and recorded.
        host.Send("unload ns:libcbmod.so", "unloaded");
        Assert.Equal(["libcbmod: cbmod_exit"], log.Take());
        Assert.NotNull(Graft.Patching.Operations.Patcher.List(host.Pid).Patches.Single().Objects.Single().Path);

        graftd.Revert("mod-describe-new", Timeout);
        Assert.Equal("describe host-old mod-old", host.Send("describe", "describe"));
    }
}
