using System.Text.Json;
using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's own security fix, applied to the running service: redis-server built from Debian's source of deb12u7
/// with Debian's flags, and the fix for CVE-2026-66373 (a RESTORE payload whose two stream consumers share one
/// pending entry was accepted, and freeing them later is a use-after-free) taken from the later release's
/// debian/patches, built into a patch by graft build --diff and applied under redis-benchmark. That patch also holds
/// the fix for CVE-2026-25243 (a zipmap whose small length is encoded in 5 bytes passed the integrity check), whose
/// payload the same server is shown to take, refuse, and take again. The first run builds redis (minutes); later runs
/// reuse it from the tests' output folder.
/// </summary>
public sealed partial class DebianRedisFixTests(ITestOutputHelper output) : IDisposable
{

    private readonly DebianRedisFix fix = new(output, "stream");

    public void Dispose() => fix.Dispose();

    [Fact]
    public void TheFixForCve2026_66373BuiltFromDebiansDiffRefusesTheCorruptStreamLiveUnderLoadAndRevertBringsTheOldCodeBack() =>
        FixCve2026_66373LiveUnderLoad(fix.Redis.Binary);

    /// <summary>
    /// The same fix, proven against and applied to redis-server exactly as Debian's package ships it: stripped, its
    /// symbols from the debug file of Debian's reproduced build (<see cref="DebianRedisPackage"/>), run by the name
    /// of the package's symlink. The patch names the package's build-id, so it applies to nothing else.
    /// </summary>
    [Fact]
    public void TheSameFixIsProvenAgainstAndAppliedToTheBinaryOfDebiansOwnPackage()
    {
        var package = DebianRedisPackage.Get(DebianRedisFix.Running);

        var report = FixCve2026_66373LiveUnderLoad(package.Binary);

        Assert.Equal(package.BuildId, report.GetProperty("binaryBuildId").GetString());
    }

    /// <summary>Builds the fix against <paramref name="binary"/> and shows it live under load on a server that runs it; returns graft build's report.</summary>
    private JsonElement FixCve2026_66373LiveUnderLoad(string binary)
    {
        // The fix's diff applies after CVE-2026-25243's (deb12u8), whose test it extends: both, as the release has them.
        var diff = Path.Combine(fix.Work, "cve-2026-66373.diff");
        File.WriteAllText(diff, string.Concat(
            File.ReadAllText(DebianRedisFix.Diff("CVE-2026-25243")), File.ReadAllText(DebianRedisFix.Diff("CVE-2026-66373"))));
        var payload = Payload(diff, RestorePayload(), "stream");
        var zipmap = Payload(diff, ZipmapFieldPayload(), "zipmap");
        var patch = Path.Combine(fix.Work, "cve-2026-66373.so");

        var report = fix.Build(diff, binary, patch, "rdbLoadObject", "zipmapValidateIntegrity");

        // The old code takes the corrupt stream (a separate server: freeing that stream may crash it).
        using (var old = StartRedis(binary, out var oldPort))
        {
            Assert.Equal("OK", Restore(oldPort, payload));
        }

        using var server = StartRedis(binary, out var port);
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, $"DEBUG POPULATE {DebianRedisFix.Survivors} survivor"));
        fix.ApplyUnderLoad(server, port, patch, $"-p {port}", () =>
        {
            // The old code takes the zipmap on the server to patch: its 5-byte length stays inside the payload, so the
            // hash it makes is sound, only the check the fix adds refuses it.
            Assert.Equal("OK", Restore(port, zipmap, "zipmap:old"));
            Assert.Equal(["hash"], DebianRedisFix.Cli(port, "TYPE zipmap:old"));
        });
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, "DEBUG SET-SKIP-CHECKSUM-VALIDATION 1"));
        Assert.Contains("Bad data format", Restore(port, payload), StringComparison.Ordinal);
        // RESTORE logs why it refused a payload at the verbose level only: the check the fix added is the reason.
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, "CONFIG SET loglevel verbose"));
        Assert.Contains("Bad data format", Restore(port, zipmap, "zipmap:patched"), StringComparison.Ordinal);
        Assert.Contains(server.Lines(), line => line.Contains("Zipmap integrity check failed", StringComparison.Ordinal));
        Assert.Equal(["PONG"], DebianRedisFix.Cli(port, "PING"));

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-66373");

        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        Assert.Equal("OK", Restore(port, payload));
        Assert.Equal("OK", Restore(port, zipmap, "zipmap:reverted"));
        Assert.Equal(["value:4242"], DebianRedisFix.Cli(port, "GET survivor:4242"));
        return report;
    }

    private RunningFixture StartRedis(string binary, out int port) => fix.Start(binary, port = Ports.Free());

    /// <summary>A RESTORE payload the diff adds to tests/integration/corrupt-dump.tcl (the one <paramref name="test"/>
    /// finds), written to a file named <paramref name="name"/>.</summary>
    private string Payload(string diff, Regex test, string name)
    {
        var escaped = test.Match(File.ReadAllText(diff)).Groups[1].Value;
        Assert.NotEmpty(escaped);
        var path = Path.Combine(fix.Work, name);
        File.WriteAllBytes(path, [.. HexByte().Matches(escaped).Select(m => Convert.ToByte(m.Groups[1].Value, 16))]);
        return path;
    }

    private static string Restore(int port, string payload, string key = "mystream")
    {
        var result = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {port} -x RESTORE {key} 0 < '{payload}'");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Trim();
    }

    [GeneratedRegex(@"RESTORE mystream 0 ""((?:\\x[0-9a-fA-F]{2})+)""")]
    private static partial Regex RestorePayload();

    /// <summary>The payload of 'corrupt payload: zipmap - 5 bytes length encoding for a small field', CVE-2026-25243's.</summary>
    [GeneratedRegex(@"5 bytes length encoding for a small field\}.*?restore key 0 ""((?:\\x[0-9a-fA-F]{2})+)""", RegexOptions.Singleline)]
    private static partial Regex ZipmapFieldPayload();

    [GeneratedRegex(@"\\x([0-9a-fA-F]{2})")]
    private static partial Regex HexByte();
}
