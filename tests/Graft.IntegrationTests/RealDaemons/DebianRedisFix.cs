using System.Diagnostics;
using System.Text.Json;
using Graft.IntegrationTests.Support;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// What the tests of Debian's redis fixes share: the releases, the build of a fix from Debian's diff, a server, redis-cli,
/// and the apply under redis-benchmark, whose load must come through it untouched (no error, the same process, its keys).
/// </summary>
internal sealed class DebianRedisFix(ITestOutputHelper output, string name) : IDisposable
{
    /// <summary>The release the servers run.</summary>
    public const string Running = "5:7.0.15-1~deb12u7";

    /// <summary>The later release, whose debian/patches hold the fixes.</summary>
    public const string Fixed = "5:7.0.15-1~deb12u10";

    public const int Survivors = 100_000;

    public DebianRedisSource Redis { get; } = DebianRedisSource.Get(Running);

    /// <summary>The test's own folder: patches, server folders, logs.</summary>
    public string Work { get; } = Directory.CreateTempSubdirectory($"graft-debian-redis-{name}-").FullName;

    public void Dispose() => Directory.Delete(Work, recursive: true);

    /// <summary>A CVE patch of the later release, as Debian ships it.</summary>
    public static string Diff(string cve) => DebianRedisSource.PackagingFile(Fixed, $"debian/patches/{cve}.patch");

    /// <summary>graft build --diff of <paramref name="diff"/> against <paramref name="binary"/>; the patch must replace
    /// <paramref name="replaces"/> (among others: a moved line may change more). Returns graft build's report.</summary>
    public JsonElement Build(string diff, string binary, string patch, params string[] replaces)
    {
        var built = Shell.Graft("build", "--source", Redis.Source, "--diff", diff, "--binary", binary, "-o", patch,
            "--build", Redis.BuildCommand, "--json");

        Assert.True(built.ExitCode == 0, built.Stderr);
        var report = JsonDocument.Parse(built.Stdout).RootElement;
        var replaced = report.GetProperty("functions").EnumerateArray()
            .Where(f => f.GetProperty("change").GetString() == "Changed").Select(f => f.GetProperty("name").GetString()).ToList();
        output.WriteLine($"replaced: {string.Join(", ", replaced)}");
        Assert.All(replaces, name => Assert.Contains(name, replaced));
        return report;
    }

    /// <summary>redis-server on 127.0.0.1:<paramref name="port"/>, in a folder of its own, with no persistence, DEBUG
    /// allowed and <paramref name="options"/>.</summary>
    public RunningFixture Start(string binary, int port, params string[] options)
    {
        var directory = Directory.CreateDirectory(Path.Combine(Work, $"redis-{port}")).FullName;
        return RunningFixture.StartDaemon(binary, "Ready to accept connections", ["--port", port.ToString(), "--bind", "127.0.0.1",
            "--dir", directory, "--save", "", "--appendonly", "no", "--enable-debug-command", "yes", .. options]);
    }

    /// <summary>
    /// Applies <paramref name="patch"/> to <paramref name="server"/> (its plain port <paramref name="port"/>, holding
    /// <see cref="Survivors"/> keys) while redis-benchmark runs against <paramref name="benchmarkTarget"/> (its -p and
    /// any TLS options), <paramref name="beforeApply"/> once the load runs; then checks that the load came through.
    /// </summary>
    public void ApplyUnderLoad(RunningFixture server, int port, string patch, string benchmarkTarget, Action? beforeApply = null)
    {
        var load = Path.Combine(Work, "benchmark.out");
        using var benchmark = Process.Start("/bin/sh",
            ["-c", $"exec redis-benchmark -h 127.0.0.1 {benchmarkTarget} -t set,get,incr,lpush -c 20 -r 100000 -l -q > '{load}' 2>&1"]);
        WaitForTraffic(port, Survivors);
        beforeApply?.Invoke();

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
    }

    public static string[] Cli(int port, string command)
    {
        var result = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {port} {command}");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

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
}
