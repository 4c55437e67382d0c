using Graft.IntegrationTests.Support;
using Graft.Patching;

namespace Graft.IntegrationTests.Boundary;

/// <summary>
/// Graft runs only the bytes it checked: a bad or untrusted patch file is refused in one line
/// before graft touches the target, and what the target loads is the file graft read, whatever
/// the path names by then or in the target's own mount namespace.
/// </summary>
public sealed class PatchFileTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);
    private readonly string directory = Directory.CreateTempSubdirectory("graft-patch-file-").FullName;

    public static TheoryData<string, string> BadFiles => new()
    {
        { "fifo", "is not a regular file" },
        { "/dev/zero", "is not a regular file" },
        { "directory", "is not a regular file" },
        { "world-writable", "its file is writable by other users (mode 666)" },
        { "group-writable", "its file is writable by other users (mode 664)" },
        { "other-owner", "its file is owned by uid 4242, not root" },
        { "open-directory", "above it is writable by other users (mode 777)" },
        { "rodata_func", "the new_func of 'describe' (0x" },
        { "hostile_name", "a name at 0x" },
    };

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void BadPatchFileIsRefusedInOneLineAndTheTargetIsUntouched(string kind, string reason)
    {
        using var counter = RunningFixture.Start("counter");
        var before = TargetText.Read(counter.Pid);

        var result = Shell.Graft("apply", counter.Pid.ToString(), Make(kind));

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("graft: error: ", line);
        Assert.Contains(reason, line);
        Assert.DoesNotContain(line, char.IsControl);
        before.AssertUnchanged(counter.Pid);
        Ticks.Next(counter, 2, "old");
    }

    [Fact]
    public void SymlinkFlippedWhileApplyingNeverRunsAnotherFileThanTheOneReported()
    {
        using var counter = RunningFixture.Start("counter");
        var link = Path.Combine(directory, "fix.so");
        File.CreateSymbolicLink(link, Repository.Patch("describe_new"));
        var patcher = new NoticeLog().NewPatcher();
        using var flipping = new CancellationTokenSource();
        var flipper = new Thread(() =>
        {
            var temporary = Path.Combine(directory, "next.so");
            for (var i = 0; !flipping.IsCancellationRequested; i++)
            {
                File.Delete(temporary);
                File.CreateSymbolicLink(temporary, Repository.Patch(i % 2 == 0 ? "describe_new" : "describe_v2"));
                File.Move(temporary, link, overwrite: true);
            }
        });
        flipper.Start();

        try
        {
            for (var round = 0; round < 10; round++)
            {
                var name = patcher.Apply(counter.Pid, link, Timeout).PatchName;
                Ticks.Next(counter, 2, name == "describe-new" ? "new" : "v2");
                patcher.Revert(counter.Pid, name, Timeout);
                Ticks.Next(counter, 2, "old");
            }
        }
        finally
        {
            flipping.Cancel();
            flipper.Join();
        }
    }

    [Fact]
    public void TargetInAnotherMountNamespaceRunsTheFileGraftRead()
    {
        // In the target's mount namespace the operator's path holds another patch.
        var fix = Path.Combine(directory, "fix.so");
        var theirs = Path.Combine(directory, "theirs.so");
        File.Copy(Repository.Patch("describe_new"), fix);
        File.Copy(Repository.Patch("describe_v2"), theirs);
        using var counter = RunningFixture.StartProgram("/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
            $"mount --bind '{theirs}' '{fix}' && exec '{Repository.Fixture("counter")}'");

        var report = new NoticeLog().NewPatcher().Apply(counter.Pid, fix, Timeout);

        Assert.Equal("describe-new", report.PatchName);
        Ticks.Next(counter, 2, "new");
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>A patch file of the given kind, in this test's directory.</summary>
    private string Make(string kind)
    {
        var path = Path.Combine(directory, $"{kind}.so");
        switch (kind)
        {
            case "fifo":
                Shell.Run("mkfifo", path);
                return path;
            case "/dev/zero":
                return kind;
            case "directory":
                return directory;
            case "rodata_func" or "hostile_name":
                return Repository.Patch(kind);
            case "open-directory":
                var open = Directory.CreateDirectory(Path.Combine(directory, "open"));
                Shell.Run("chmod", "777", open.FullName);
                path = Path.Combine(open.FullName, "fix.so");
                File.Copy(Repository.Patch("describe_new"), path);
                return path;
        }

        File.Copy(Repository.Patch("describe_new"), path);
        switch (kind)
        {
            case "world-writable":
                Shell.Run("chmod", "666", path);
                break;
            case "group-writable":
                Shell.Run("chmod", "664", path);
                Shell.Run("chgrp", "4242", path);
                break;
            case "other-owner":
                Shell.Run("chown", "4242", path);
                break;
        }

        return path;
    }
}
