using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;
using Graft.Model.Patches;

namespace Graft.IntegrationTests.Trust;

/// <summary>
/// The audit trail: every apply, revert and refusal, with who asked, the patch (name, file,
/// SHA-256, signer), the pid and the result; in syslog when graft runs the operation, in graftd's
/// journal when graftd does.
/// </summary>
public sealed partial class AuditTrailTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly TrustDirectory trust = new();
    private readonly SyslogSink syslog = new();

    [Fact]
    public void ApplyRevertAndRefusalGoToSyslogWithWhoAskedThePatchAndTheResult()
    {
        var key = trust.NewKeyWithOpenssl("release");
        trust.Trust(key);
        var patch = trust.CopyOf("describe_new");
        trust.Sign(patch, key);
        var tampered = Path.Combine(trust.Work, "tampered.so");
        var bytes = File.ReadAllBytes(patch);
        bytes[bytes.Length / 3] ^= 0x01;
        File.WriteAllBytes(tampered, bytes);
        using var counter = RunningFixture.Start("counter");
        var pid = counter.Pid.ToString();
        syslog.Drain();

        Assert.Equal(0, Graft("apply", pid, patch).ExitCode);
        Assert.Equal(0, Graft("revert", pid, "describe-new").ExitCode);
        Assert.Equal(2, Graft("apply", pid, tampered).ExitCode);

        var records = syslog.Receive(3, Wait);
        Assert.Equal(3, records.Count);
        var (apply, revert, refusal) = (Fields(records[0]), Fields(records[1]), Fields(records[2]));
        foreach (var record in new[] { apply, revert, refusal })
        {
            Assert.Equal("0", record["uid"]);
            Assert.Equal("alice", record["sudo_user"]);
            Assert.Equal(pid, record["pid"]);
            Assert.True(record.ContainsKey("loginuid"));
        }

        Assert.Equal(("apply", "describe-new", patch, "ok"), (apply["op"], apply["patch"], apply["file"], apply["result"]));
        Assert.Equal(PatchFile.Sha256Of(File.ReadAllBytes(patch)), apply["sha256"]);
        Assert.Equal($"{key.Subject} (sha256 {key.Fingerprint})", apply["signer"]);
        Assert.Equal(("revert", "describe-new", "ok"), (revert["op"], revert["patch"], revert["result"]));
        Assert.Equal(apply["sha256"], revert["sha256"]);
        Assert.Equal(("apply", tampered), (refusal["op"], refusal["file"]));
        Assert.Equal(PatchFile.Sha256Of(bytes), refusal["sha256"]);
        Assert.Equal($"unverified sha256 {key.Fingerprint}", refusal["signer"]);
        Assert.Equal($"refused: patch {tampered}: signature does not match its contents (tampered?)", refusal["result"]);
    }

    [Fact]
    public void ApplyToEveryProcessRefusedBeforeChoosingAnyIsRecordedToo()
    {
        trust.RequireSignatures(true);
        var patch = trust.CopyOf("describe_new");
        syslog.Drain();

        var result = Graft("apply", "--all", patch);

        Assert.Equal(2, result.ExitCode);
        var record = Fields(Assert.Single(syslog.Receive(1, Wait)));
        Assert.Equal(("apply", "-", patch, "unsigned"), (record["op"], record["pid"], record["file"], record["signer"]));
        Assert.Equal(PatchFile.Sha256Of(File.ReadAllBytes(patch)), record["sha256"]);
        Assert.StartsWith($"refused: patch {patch}: it is not signed", record["result"]);
    }

    [Fact]
    public void SyslogRecordIsAnAuthprivMessageTaggedGraftWithItsPid()
    {
        using var counter = RunningFixture.Start("counter");
        syslog.Drain();

        Graft("apply", counter.Pid.ToString(), trust.CopyOf("describe_new"));

        var record = Assert.Single(syslog.Receive(1, Wait));
        Assert.Matches(@"^<86>[A-Z][a-z]{2} [ 1-3]\d \d{2}:\d{2}:\d{2} graft\[\d+\]: uid=0 ", record);
    }

    [Fact]
    public void WithoutASyslogSocketTheOperationIsDoneAndGraftSaysOnceThatItsRecordIsLost()
    {
        using var counter = RunningFixture.Start("counter");
        var missing = Path.Combine(trust.Work, "no-syslog");
        var environment = new Dictionary<string, string>(trust.Environment) { [SyslogSink.Variable] = missing };

        var result = Shell.Run(environment, Published.Graft, "apply", counter.Pid.ToString(), trust.CopyOf("describe_new"));

        Assert.Equal(0, result.ExitCode);
        var warning = Assert.Single(result.Stderr.Split('\n'), l => l.Contains("audit", StringComparison.Ordinal));
        Assert.StartsWith($"graft: warning: the audit record of this apply could not be written to syslog at {missing} (", warning);
        Ticks.Next(counter, 2, "new");
    }

    [Fact]
    public void GraftdJournalsTheAuditRecordWithTheClientsCredentialsAndKeepsItsOwnPolicy()
    {
        using var graftd = GraftdProcess.Start(Path.Combine(trust.Work, "graftd.sock"), Path.Combine(trust.Work, "graftd.journal"));
        using var counter = RunningFixture.Start("counter");
        var patch = trust.CopyOf("describe_new");
        // The client's configuration says signatures are required; graftd's (the host's, with none) decides.
        trust.RequireSignatures(true);
        var environment = new Dictionary<string, string>(trust.Environment)
        {
            ["GRAFTD_SOCKET"] = Path.Combine(trust.Work, "graftd.sock"),
            [SyslogSink.Variable] = syslog.Path,
        };

        var applied = Shell.Run(environment, Published.Graft, "apply", counter.Pid.ToString(), patch);
        var refused = Shell.Run(environment, Published.Graft, "revert", counter.Pid.ToString(), "no-such-patch");

        Assert.True(applied.ExitCode == 0, applied.Stderr);
        Assert.Equal(2, refused.ExitCode);
        var apply = Fields(graftd.WaitForJournal(l => l.Contains("audit: ", StringComparison.Ordinal) && l.Contains("op=apply", StringComparison.Ordinal), Wait));
        var revert = Fields(graftd.WaitForJournal(l => l.Contains("audit: ", StringComparison.Ordinal) && l.Contains("op=revert", StringComparison.Ordinal), Wait));
        Assert.Equal(("0", counter.Pid.ToString(), "describe-new", "unsigned", "ok"), (apply["uid"], apply["pid"], apply["patch"], apply["signer"], apply["result"]));
        Assert.Equal(PatchFile.Sha256Of(File.ReadAllBytes(patch)), apply["sha256"]);
        Assert.True(int.Parse(apply["client_pid"]) > 0);
        Assert.Equal($"refused: patch 'no-such-patch' is not applied to process {counter.Pid}", revert["result"]);
        // The command that asked graftd writes no record of its own: graftd's journal has it.
        Assert.Empty(syslog.Receive(1, TimeSpan.FromMilliseconds(200)));
        Ticks.Next(counter, 2, "new");
    }

    public void Dispose()
    {
        syslog.Dispose();
        trust.Dispose();
    }

    private Shell.Result Graft(params string[] arguments)
    {
        var environment = new Dictionary<string, string>(trust.Environment) { [SyslogSink.Variable] = syslog.Path, ["SUDO_USER"] = "alice" };
        return Shell.Run(environment, Published.Graft, arguments);
    }

    /// <summary>The key=value fields of an audit record (a syslog message or a journal line), values unquoted.</summary>
    private static Dictionary<string, string> Fields(string record) =>
        FieldPattern().Matches(record).ToDictionary(m => m.Groups[1].Value,
            m => m.Groups[2].Value.StartsWith('"') ? Regex.Unescape(m.Groups[2].Value[1..^1]) : m.Groups[2].Value);

    [GeneratedRegex("""(\w+)=("(?:[^"\\]|\\.)*"|\S+)""")]
    private static partial Regex FieldPattern();
}
