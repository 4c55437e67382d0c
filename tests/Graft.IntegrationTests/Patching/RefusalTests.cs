using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Patching;

/// <summary>A patch that does not fit is refused with its own message, and nothing in the target changes.</summary>
public sealed class RefusalTests
{
    [Theory]
    [InlineData("wrong_build_id", "build-id mismatch for ", "requires 0000000000000000000000000000000000000000")]
    [InlineData("missing_symbol", "'no_such_function'", "not found")]
    [InlineData("too_small", "cannot patch 'tiny'", "does not fit")]
    [InlineData("branch_into_window", "cannot patch 'branchy'", "branches to +0x2")]
    public void MismatchedPatchIsRefusedAndTargetUntouched(string patch, string subject, string reason)
    {
        using var counter = RunningFixture.Start("counter");
        var before = TargetText.Read(counter.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(counter.Pid, Repository.Patch(patch), TimeSpan.FromSeconds(5)));

        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Contains(subject, refusal.Message);
        Assert.Contains(reason, refusal.Message);
        before.AssertUnchanged(counter.Pid);
    }

    [Fact]
    public void AmbiguousSymbolWithoutSymposIsRefused()
    {
        using var twins = RunningFixture.Start("twins");
        var before = TargetText.Read(twins.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(twins.Pid, Repository.Patch("twin_ambiguous"), TimeSpan.FromSeconds(5)));

        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.Equal("twins: symbol 'label' is ambiguous: 2 local symbols share the name; set old_sympos (1..2)", refusal.Message);
        before.AssertUnchanged(twins.Pid);
    }

    [Fact]
    public void TruncatedPatchFileIsRefused()
    {
        using var counter = RunningFixture.Start("counter");
        var truncated = Path.GetTempFileName();
        var bytes = File.ReadAllBytes(Repository.Patch("describe_new"));
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 3)]);
        var before = TargetText.Read(counter.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(counter.Pid, truncated, TimeSpan.FromSeconds(5)));

        File.Delete(truncated);
        Assert.Equal(GraftFailure.Refused, refusal.Failure);
        Assert.StartsWith(truncated + ": ", refusal.Message);
        Assert.Contains("outside the file", refusal.Message);
        before.AssertUnchanged(counter.Pid);
    }

    [Fact]
    public void NonElfFileIsRefused()
    {
        using var counter = RunningFixture.Start("counter");
        var text = Path.GetTempFileName();
        File.WriteAllText(text, "this is not a patch\n");
        var before = TargetText.Read(counter.Pid);

        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(counter.Pid, text, TimeSpan.FromSeconds(5)));

        File.Delete(text);
        Assert.Equal($"{text}: not an ELF file", refusal.Message);
        before.AssertUnchanged(counter.Pid);
    }

    [Fact]
    public void SamePatchTwiceIsRefused()
    {
        using var counter = RunningFixture.Start("counter");
        var patcher = new NoticeLog().NewPatcher();
        patcher.Apply(counter.Pid, Repository.Patch("describe_new"), TimeSpan.FromSeconds(15));
        var before = TargetText.Read(counter.Pid);

        var refusal = Assert.Throws<GraftException>(() => patcher.Apply(counter.Pid, Repository.Patch("describe_new"), TimeSpan.FromSeconds(5)));

        Assert.Equal($"patch 'describe-new' is already applied to process {counter.Pid}", refusal.Message);
        before.AssertUnchanged(counter.Pid);
    }

    [Fact]
    public void MissingProcessIsReported()
    {
        var refusal = Assert.Throws<GraftException>(() =>
            new NoticeLog().NewPatcher().Apply(int.MaxValue, Repository.Patch("describe_new"), TimeSpan.FromSeconds(1)));

        Assert.Equal(GraftFailure.TargetGone, refusal.Failure);
    }
}
