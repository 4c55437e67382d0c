using System.Text.Json;
using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;

namespace Graft.IntegrationTests.Fleet;

/// <summary>
/// The Ansible collection (dist/ansible) as an operator runs it: ansible-playbook runs the
/// documented rollout, dist/ansible/examples/rolling-rollout.yml, against localhost on processes
/// of a program this test compiles, patched by object (the program's own path), so that no other
/// test's processes are reached.
/// </summary>
public sealed partial class AnsibleTests : IDisposable
{
    private static readonly string Playbook = Path.Combine(Repository.Root, "dist", "ansible", "examples", "rolling-rollout.yml");
    private readonly string directory = Directory.CreateTempSubdirectory("graft-ansible-").FullName;

    [Fact]
    public void TheRolloutPatchesEveryProcessOnceAndRollsBack()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "ansible");
        using var first = RunningFixture.StartProgram(program);
        using var second = RunningFixture.StartProgram(program);
        using var third = RunningFixture.StartProgram(program);
        RunningFixture[] all = [first, second, third];
        var pids = all.Select(p => p.Pid).Order().ToArray();

        var apply = RunPlaybook(program, patch);
        AssertSummary(apply, "applied", "changed", pids, []);
        Assert.All(all, p => p.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal)));
        var applied = pids.Select(AppliedAt).ToList();
        Assert.All(applied, a => Assert.Equal("patched", a.Phase));

        // A second run changes nothing: no task reports a change and no process was applied to again.
        var again = RunPlaybook(program, patch);
        AssertSummary(again, "applied", "changed", [], pids);
        Assert.Equal(0, RecapChanged(again));
        Assert.Equal(applied, pids.Select(AppliedAt));

        // Check mode names the processes a roll-back would revert and reverts none.
        var check = RunPlaybook(program, patch, "-e", "graft_state=reverted", "--check");
        AssertSummary(check, "reverted", "would change", pids, []);
        Assert.Equal(applied, pids.Select(AppliedAt));
        Assert.All(all, p => p.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal)));

        var revert = RunPlaybook(program, patch, "-e", "graft_state=reverted");
        AssertSummary(revert, "reverted", "changed", pids, []);
        Assert.All(all, p => p.NextLine(l => l.StartsWith("tick 42", StringComparison.Ordinal)));
        Assert.All(pids, pid => Assert.Null(AppliedAt(pid).Phase));
    }

    [Fact]
    public void AProcessThatRefusesFailsTheHostWithGraftsMessageAndTheOthersAreDone()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "ansible-refusing");
        using var first = RunningFixture.StartProgram(program);
        using var stopped = RunningFixture.StartProgram(program);
        stopped.Signal("STOP");

        var apply = RunPlaybook(program, patch, expectedExitCode: 2);
        stopped.Signal("CONT");

        Assert.Contains($"process {stopped.Pid} (program): failed (exit code 2): process {stopped.Pid} is stopped", apply.Stdout);
        Assert.Contains($"Done: {first.Pid}\"", apply.Stdout);
        first.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        Assert.Null(AppliedAt(stopped.Pid).Phase);
        Assert.Equal(0, Shell.Graft("revert", "--all", "answer-43", "--object", program).ExitCode);
    }

    [Fact]
    public void TargetsAllAndPidChangeOnlyWhatDiffersAndCheckModeChangesNothing()
    {
        var (program, patch) = AnswerPrograms.BuildWithPatch(directory, "ansible-targets");
        using var first = RunningFixture.StartProgram(program);
        using var second = RunningFixture.StartProgram(program);
        var graft = $"graft={Published.Graft}";

        // target=all in check mode chooses by the build-id the patch pins, as graft apply --all does.
        using (var check = Module("--check", $"patch={patch}", "target=all", graft))
        {
            Assert.Equal([first.Pid, second.Pid], Pids(check, "changed_pids").Order());
            Assert.All(new[] { first.Pid, second.Pid }, pid => Assert.Null(AppliedAt(pid).Phase));
        }

        using (var one = Module($"patch={patch}", "target=pid", $"pid={first.Pid}", graft))
        {
            Assert.Equal([first.Pid], Pids(one, "changed_pids"));
        }

        using (var again = Module($"patch={patch}", "target=pid", $"pid={first.Pid}", graft))
        {
            Assert.False(again.RootElement.GetProperty("changed").GetBoolean());
        }

        // The rest of the host: only the process that did not hold the patch changes.
        using (var rest = Module($"patch={patch}", "target=all", graft))
        {
            Assert.Equal([second.Pid], Pids(rest, "changed_pids"));
            var facts = rest.RootElement.GetProperty("ansible_facts").GetProperty("graft_patches");
            Assert.Equal("patched", facts.GetProperty(first.Pid.ToString()).GetProperty("patches")[0].GetProperty("state").GetString());
        }

        second.NextLine(l => l.StartsWith("tick 43", StringComparison.Ordinal));
        using var revert = Module("name=answer-43", "target=all", "state=reverted", graft);
        Assert.Equal([first.Pid, second.Pid], Pids(revert, "changed_pids").Order());
        first.NextLine(l => l.StartsWith("tick 42", StringComparison.Ordinal));
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Runs graft_patch once on localhost (ansible ad hoc) and returns its result, which ansible prints as JSON after "=>".</summary>
    private JsonDocument Module(params string[] arguments)
    {
        string[] check = arguments[0] == "--check" ? ["--check"] : [];
        var run = Shell.Run(AnsibleEnvironment(), Installed("ansible"), ["localhost", "-i", "localhost,", "-c", "local", .. check,
            "-m", "graft.livepatch.graft_patch", "-a", string.Join(' ', arguments.Skip(check.Length))]);
        Assert.True(run.ExitCode == 0, $"ansible exited with {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
        return JsonDocument.Parse(run.Stdout[(run.Stdout.IndexOf("=>", StringComparison.Ordinal) + 2)..]);
    }

    private static IEnumerable<int> Pids(JsonDocument result, string property) =>
        result.RootElement.GetProperty(property).EnumerateArray().Select(p => p.GetInt32());

    /// <summary>Runs the example playbook on localhost, with the patch deployed under this test's directory.</summary>
    private Shell.Result RunPlaybook(string program, string patch, params string[] extra) => RunPlaybook(program, patch, 0, extra);

    private Shell.Result RunPlaybook(string program, string patch, int expectedExitCode, params string[] extra)
    {
        var deployed = Directory.CreateDirectory(Path.Combine(directory, "deployed")).FullName;
        string[] arguments = ["-i", "localhost,", "-c", "local", Playbook, "-e", "graft_hosts=localhost", "-e", $"graft_patch_file={patch}",
            "-e", $"graft_patch_dir={deployed}", "-e", $"graft_object={program}", "-e", $"graft_command={Published.Graft}", "-e", "graft_soak_seconds=0", .. extra];
        var result = Shell.Run(AnsibleEnvironment(), Installed("ansible-playbook"), arguments);
        Assert.True(result.ExitCode == expectedExitCode, $"ansible-playbook exited with {result.ExitCode}:\n{result.Stdout}\n{result.Stderr}");
        return result;
    }

    /// <summary>The collection from this tree, and Ansible's own files under this test's directory.</summary>
    private Dictionary<string, string> AnsibleEnvironment() => new()
    {
        ["ANSIBLE_COLLECTIONS_PATH"] = Path.Combine(Repository.Root, "dist", "ansible"),
        ["ANSIBLE_HOME"] = Path.Combine(directory, "ansible-home"),
        ["ANSIBLE_LOCAL_TEMP"] = Path.Combine(directory, "ansible-tmp"),
        ["ANSIBLE_PYTHON_INTERPRETER"] = "auto_silent",
        ["ANSIBLE_NOCOLOR"] = "1",
    };

    private static string Installed(string command) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, command)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{command} is not on PATH: scripts/install-deps.sh installs Debian's ansible-core (as root: apt-get install ansible-core)");

    /// <summary>The playbook's summary line names the pids that changed (or would) and those that were as asked already.</summary>
    private static void AssertSummary(Shell.Result run, string state, string verb, int[] changed, int[] asAsked)
    {
        var summary = Regex.Match(run.Stdout, $"graft_patch {state} 'answer-43': {verb} ([0-9,]*); as asked already ([0-9,]*)\"");
        Assert.True(summary.Success, run.Stdout);
        Assert.Equal(string.Join(',', changed), summary.Groups[1].Value);
        Assert.Equal(string.Join(',', asAsked), summary.Groups[2].Value);
    }

    private static int RecapChanged(Shell.Result run) => int.Parse(RecapLine().Match(run.Stdout).Groups[1].Value);

    /// <summary>The phase of answer-43 in the process, read with graft list --json, and when it was applied: an apply again would change the time.</summary>
    private static (string? Phase, string? AppliedAt) AppliedAt(int pid)
    {
        var list = Shell.Graft("list", pid.ToString(), "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        using var state = JsonDocument.Parse(list.Stdout);
        return state.RootElement.GetProperty("patches").EnumerateArray().Where(p => p.GetProperty("name").GetString() == "answer-43")
            .Select(p => ((string?)p.GetProperty("phase").GetString(), p.GetProperty("appliedAt").GetString())).SingleOrDefault();
    }

    [GeneratedRegex(@"localhost\s+:\s+ok=\d+\s+changed=(\d+)")]
    private static partial Regex RecapLine();
}
