using Graft.IntegrationTests.Support;
using Graft.Patching;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's own redis-server 7.0.15 (installed by scripts/install-deps.sh), patched as an operator would: digits10()
/// is a leaf whose callers keep values in caller-saved registers across the call (ull2string keeps r8, rsi and rdi),
/// and the replacement counts its calls through libgraft. Before the register-preserving entry, the next INCR after
/// the apply crashed redis with SIGSEGV in ull2string.
/// </summary>
public sealed class RedisTests(ITestOutputHelper output)
{
    internal const string RedisServer = "/usr/bin/redis-server";

    [Theory]
    [InlineData(ConsistencyModel.PerThread)]
    [InlineData(ConsistencyModel.StopWorld)]
    public void ACountingDigits10KeepsIncrRightAcrossEveryDigitCount(ConsistencyModel model)
    {
        var port = Ports.Free();
        using var redis = RunningFixture.StartDaemon(RedisServer, "Ready to accept connections",
            "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        var patcher = new NoticeLog().NewPatcher();

        var report = patcher.Apply(redis.Pid, Repository.Patch("redis_digits10"), TimeSpan.FromSeconds(30), model: model);

        var digits10 = Assert.Single(report.Functions);
        output.WriteLine($"digits10: {digits10.Entry}");
        Assert.True(digits10.Entry?.Preserving, digits10.Entry?.Reason);
        foreach (var start in new[] { 0L, 95, 99_995, 999_999_995, 999_999_999_995, 9_999_999_999_999_995 })
        {
            Assert.Equal("OK", Cli(port, $"SET counter {start}").Single());
            var values = Cli(port, string.Concat(Enumerable.Repeat("INCR counter\n", 10)));
            Assert.Equal(Enumerable.Range(1, 10).Select(i => (start + i).ToString()), values);
        }

        Assert.True(redis.IsAlive);
        Assert.Null(patcher.Revert(redis.Pid, "redis-digits10", TimeSpan.FromSeconds(30), model: model).InFlight);
        Assert.Equal(["10000000000000006"], Cli(port, "INCR counter"));
    }

    /// <summary>Commands through redis-cli, one per line; its replies, one per line.</summary>
    internal static string[] Cli(int port, string commands)
    {
        var result = Shell.Run("/bin/sh", "-c", $"printf '%s' '{commands}' | redis-cli -h 127.0.0.1 -p {port}");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
