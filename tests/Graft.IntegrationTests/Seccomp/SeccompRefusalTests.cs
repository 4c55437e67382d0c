using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Seccomp;

/// <summary>
/// A process that seccomp would kill at a system call graft makes is refused (exit 2) before
/// graft writes anything into it; one whose filters let graft's calls through is patched as
/// any other. The seccomped fixture says in its ready line which thread its mode concerns.
/// </summary>
public sealed class SeccompRefusalTests
{
    [Theory]
    [InlineData("strict", "thread {tid} is in seccomp strict mode, which would kill it at memfd_create (SECCOMP_MODE_STRICT); graft needs memfd_create to map its state")]
    [InlineData("kill-memfd", "thread {tid}'s seccomp filter would kill it at memfd_create (SECCOMP_RET_KILL_PROCESS); graft needs memfd_create to map its state")]
    [InlineData("kill-mmap", "thread {tid}'s seccomp filter would kill it at mmap (SECCOMP_RET_KILL_PROCESS); graft needs mmap to map its state")]
    [InlineData("kill-skip", "thread {tid}'s seccomp filter would kill it at a skipped system call (nr -1) (SECCOMP_RET_KILL_PROCESS)")]
    public void ApplyIsRefusedAndTheTargetStaysAsItWas(string mode, string reason)
    {
        using var target = RunningFixture.Start("seccomped", mode);
        var before = TargetText.Read(target.Pid);

        var result = Shell.Graft("apply", target.Pid.ToString(), Repository.Patch("describe_new"));

        AssertRefused(result, $"graft: error: process {target.Pid}: {reason.Replace("{tid}", ConcernedThread(target))}");
        AssertAliveAndUnchanged(target, before);
    }

    [Theory]
    [InlineData("revert", "describe-new")]
    [InlineData("continue")]
    public void RevertAndContinueAreRefusedToo(params string[] operation)
    {
        using var target = RunningFixture.Start("seccomped", "kill-mmap");
        var before = TargetText.Read(target.Pid);

        var result = Shell.Graft([operation[0], target.Pid.ToString(), .. operation[1..]]);

        AssertRefused(result, $"graft: error: process {target.Pid}: thread {target.Pid}'s seccomp filter would kill it at mmap");
        AssertAliveAndUnchanged(target, before);
    }

    [Fact]
    public void UnreadableFiltersAreRefusedWithTheReason()
    {
        using var target = RunningFixture.Start("seccomped", "kill-ptrace");
        var before = TargetText.Read(target.Pid);

        // As root without CAP_SYS_ADMIN: ptrace works, PTRACE_SECCOMP_GET_FILTER does not.
        var result = Shell.Run("setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin",
            Published.Graft, "apply", target.Pid.ToString(), Repository.Patch("describe_new"));

        AssertRefused(result, $"graft: error: process {target.Pid}: cannot read the seccomp filters of thread ");
        Assert.Contains("(EACCES)): reading them needs CAP_SYS_ADMIN", result.Stderr);
        AssertAliveAndUnchanged(target, before);
    }

    [Theory]
    [InlineData("kill-ptrace")]
    [InlineData("errno-skip")]
    public void FilterThatLetsGraftsCallsThroughIsPatchedAndReverted(string mode)
    {
        using var target = RunningFixture.Start("seccomped", mode);
        var pid = target.Pid.ToString();

        var apply = Shell.Graft("apply", pid, Repository.Patch("describe_new"));
        Assert.True(apply.ExitCode == 0, apply.Stderr);
        Ticks.Next(target, 2, "new");

        var revert = Shell.Graft("revert", pid, "describe-new");
        Assert.True(revert.ExitCode == 0, revert.Stderr);
        Ticks.Next(target, 2, "old");
        Assert.True(target.IsAlive);
    }

    private static string ConcernedThread(RunningFixture target) => target.ReadyLine.Split(' ')[2];

    private static void AssertRefused(Shell.Result result, string error)
    {
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("graft: error:", StringComparison.Ordinal));
        Assert.StartsWith(error, line);
    }

    private static void AssertAliveAndUnchanged(RunningFixture target, TargetText before)
    {
        // Long enough for a thread killed at a system call to have died.
        Ticks.Next(target, 2, "old");
        Assert.True(target.IsAlive);
        before.AssertUnchanged(target.Pid);
    }
}
