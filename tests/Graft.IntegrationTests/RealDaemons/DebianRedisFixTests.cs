using System.Diagnostics;
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
    private const string Running = "5:7.0.15-1~deb12u7";
    private const string Fixed = "5:7.0.15-1~deb12u10";
    private const int Survivors = 100_000;

    private readonly string work = Directory.CreateTempSubdirectory("graft-debian-redis-").FullName;

    public void Dispose() => Directory.Delete(work, recursive: true);

    [Fact]
    public void TheFixForCve2026_66373BuiltFromDebiansDiffRefusesTheCorruptStreamLiveUnderLoadAndRevertBringsTheOldCodeBack() =>
        FixCve2026_66373LiveUnderLoad(DebianRedisSource.Get(Running).Binary);

    /// <summary>
    /// The same fix, proven against and applied to redis-server exactly as Debian's package ships it: stripped, its
    /// symbols from the debug file of Debian's reproduced build (<see cref="DebianRedisPackage"/>), run by the name
    /// of the package's symlink. The patch names the package's build-id, so it applies to nothing else.
    /// </summary>
    [Fact]
    public void TheSameFixIsProvenAgainstAndAppliedToTheBinaryOfDebiansOwnPackage()
    {
        var package = DebianRedisPackage.Get(Running);

        var report = FixCve2026_66373LiveUnderLoad(package.Binary);

        Assert.Equal(package.BuildId, report.GetProperty("binaryBuildId").GetString());
    }

    /// <summary>Builds the fix against <paramref name="binary"/> and shows it live under load on a server that runs it; returns graft build's report.</summary>
    private JsonElement FixCve2026_66373LiveUnderLoad(string binary)
    {
        var redis = DebianRedisSource.Get(Running);
        // The fix's diff applies after CVE-2026-25243's (deb12u8), whose test it extends: both, as the release has them.
        var diff = Path.Combine(work, "cve-2026-66373.diff");
        File.WriteAllText(diff, string.Concat(
            File.ReadAllText(DebianRedisSource.PackagingFile(Fixed, "debian/patches/CVE-2026-25243.patch")),
            File.ReadAllText(DebianRedisSource.PackagingFile(Fixed, "debian/patches/CVE-2026-66373.patch"))));
        var payload = Payload(diff, RestorePayload(), "stream");
        var zipmap = Payload(diff, ZipmapFieldPayload(), "zipmap");
        var patch = Path.Combine(work, "cve-2026-66373.so");

        var built = Shell.Graft("build", "--source", redis.Source, "--diff", diff, "--binary", binary, "-o", patch,
            "--build", redis.BuildCommand, "--json");

        Assert.True(built.ExitCode == 0, built.Stderr);
        var report = JsonDocument.Parse(built.Stdout).RootElement;
        var replaced = report.GetProperty("functions").EnumerateArray()
            .Where(f => f.GetProperty("change").GetString() == "Changed").Select(f => f.GetProperty("name").GetString()).ToList();
        output.WriteLine($"replaced: {string.Join(", ", replaced)}");
        Assert.Contains("rdbLoadObject", replaced);
        Assert.Contains("zipmapValidateIntegrity", replaced);

        // The old code takes the corrupt stream (a separate server: freeing that stream may crash it).
        using (var old = StartRedis(binary, out var oldPort))
        {
            Assert.Equal("OK", Restore(oldPort, payload));
        }

        using var server = StartRedis(binary, out var port);
        Assert.Equal(["OK"], Cli(port, $"DEBUG POPULATE {Survivors} survivor"));
        var load = Path.Combine(work, "benchmark.out");
        using var benchmark = Benchmark(port, load);
        WaitForTraffic(port, Survivors);
        // The old code takes the zipmap on the server to patch: its 5-byte length stays inside the payload, so the
        // hash it makes is sound, only the check the fix adds refuses it.
        Assert.Equal("OK", Restore(port, zipmap, "zipmap:old"));
        Assert.Equal(["hash"], Cli(port, "TYPE zipmap:old"));

        var applied = Shell.Graft("apply", server.Pid.ToString(), patch, "--json");

        Assert.True(applied.ExitCode == 0, applied.Stderr);
        output.WriteLine($"longest stop: {JsonDocument.Parse(applied.Stdout).RootElement.GetProperty("longestStopMilliseconds")} ms");
        WaitForTraffic(port, long.Parse(Cli(port, "DBSIZE").Single()));
        benchmark.Kill();
        benchmark.WaitForExit();
        Assert.DoesNotContain("error", File.ReadAllText(load), StringComparison.OrdinalIgnoreCase);
        Assert.True(server.IsAlive);
        Assert.True(long.Parse(Cli(port, "DBSIZE").Single()) >= Survivors);
        Assert.Equal(["value:4242"], Cli(port, "GET survivor:4242"));
        Assert.Equal(["OK"], Cli(port, "DEBUG SET-SKIP-CHECKSUM-VALIDATION 1"));
        Assert.Contains("Bad data format", Restore(port, payload), StringComparison.Ordinal);
        // RESTORE logs why it refused a payload at the verbose level only: the check the fix added is the reason.
        Assert.Equal(["OK"], Cli(port, "CONFIG SET loglevel verbose"));
        Assert.Contains("Bad data format", Restore(port, zipmap, "zipmap:patched"), StringComparison.Ordinal);
        Assert.Contains(server.Lines(), line => line.Contains("Zipmap integrity check failed", StringComparison.Ordinal));
        Assert.Equal(["PONG"], Cli(port, "PING"));

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-66373");

        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        Assert.Equal("OK", Restore(port, payload));
        Assert.Equal("OK", Restore(port, zipmap, "zipmap:reverted"));
        Assert.Equal(["value:4242"], Cli(port, "GET survivor:4242"));
        return report;
    }

    private RunningFixture StartRedis(string binary, out int port)
    {
        port = Ports.Free();
        var directory = Directory.CreateDirectory(Path.Combine(work, $"redis-{port}")).FullName;
        return RunningFixture.StartDaemon(binary, "Ready to accept connections", "--port", port.ToString(), "--bind", "127.0.0.1",
            "--dir", directory, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes");
    }

    /// <summary>redis-benchmark on the server until killed (sets, gets, increments and pushes from 20 clients), what it
    /// prints (errors included) going to <paramref name="log"/>.</summary>
    private static Process Benchmark(int port, string log) =>
        Process.Start("/bin/sh", ["-c", $"exec redis-benchmark -h 127.0.0.1 -p {port} -t set,get,incr,lpush -c 20 -r 100000 -l -q > '{log}' 2>&1"]);

    /// <summary>Waits until the benchmark's SETs have added keys to the <paramref name="keys"/> there were.</summary>
    private static void WaitForTraffic(int port, long keys)
    {
        var deadline = Stopwatch.StartNew();
        while (long.Parse(Cli(port, "DBSIZE").Single()) <= keys)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(60), "redis-benchmark added no key");
            Thread.Sleep(100);
        }
    }

    /// <summary>A RESTORE payload the diff adds to tests/integration/corrupt-dump.tcl (the one <paramref name="test"/>
    /// finds), written to a file named <paramref name="name"/>.</summary>
    private string Payload(string diff, Regex test, string name)
    {
        var escaped = test.Match(File.ReadAllText(diff)).Groups[1].Value;
        Assert.NotEmpty(escaped);
        var path = Path.Combine(work, name);
        File.WriteAllBytes(path, [.. HexByte().Matches(escaped).Select(m => Convert.ToByte(m.Groups[1].Value, 16))]);
        return path;
    }

    private static string Restore(int port, string payload, string key = "mystream")
    {
        var result = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {port} -x RESTORE {key} 0 < '{payload}'");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Trim();
    }

    private static string[] Cli(int port, string command)
    {
        var result = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {port} {command}");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    [GeneratedRegex(@"RESTORE mystream 0 ""((?:\\x[0-9a-fA-F]{2})+)""")]
    private static partial Regex RestorePayload();

    /// <summary>The payload of 'corrupt payload: zipmap - 5 bytes length encoding for a small field', CVE-2026-25243's.</summary>
    [GeneratedRegex(@"5 bytes length encoding for a small field\}.*?restore key 0 ""((?:\\x[0-9a-fA-F]{2})+)""", RegexOptions.Singleline)]
    private static partial Regex ZipmapFieldPayload();

    [GeneratedRegex(@"\\x([0-9a-fA-F]{2})")]
    private static partial Regex HexByte();
}
