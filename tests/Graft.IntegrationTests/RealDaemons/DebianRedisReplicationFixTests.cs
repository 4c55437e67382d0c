using System.Diagnostics;
using System.Text.RegularExpressions;
using Graft.IntegrationTests.Support;
using Xunit.Abstractions;

namespace Graft.IntegrationTests.RealDaemons;

/// <summary>
/// Debian's fix for CVE-2026-23631 applied to a running redis-server built from Debian's source of deb12u7: a full
/// sync that reached a replica while a timed-out function ran there (a timed-out script serves events between its
/// steps) freed the functions' library under it, a use-after-free. In 7.0 a full sync frees the functions but leaves
/// EVAL's Lua state alone, so the trigger is the diff's test with a function: the old replica then spins in the
/// function for good and answers nobody, not even FUNCTION KILL; the fixed one leaves the sync until the function ends.
/// </summary>
public sealed partial class DebianRedisReplicationFixTests(ITestOutputHelper output) : IDisposable
{
    private const string Busy = "BUSY Redis is busy running a script.";
    private const string TimedOut = "Slow script detected";
    private const string Killed = "Lua script killed by user";
    private const string SyncLoads = "MASTER <-> REPLICA sync: Loading DB in memory";

    /// <summary>The function that never ends of the diff's test.</summary>
    private const string BlockingLibrary = """
        #!lua name=blocklib
        redis.register_function{function_name='blockfunc', callback=function() while true do end end, flags={'no-writes'}}
        """;

    private readonly DebianRedisFix fix = new(output, "replication");

    public void Dispose() => fix.Dispose();

    [Fact]
    public void TheFixForCve2026_23631BuiltFromDebiansDiffHoldsAFullSyncBackWhileAFunctionRunsLiveAndRevertBringsTheOldCodeBack()
    {
        var redis = fix.Redis;
        var patch = Path.Combine(fix.Work, "cve-2026-23631.so");

        fix.Build(DebianRedisFix.Diff("CVE-2026-23631"), redis.Binary, patch, "readSyncBulkPayload");

        // The old code, on a throwaway pair: the full sync loads while the function runs, and from then on the replica
        // spins in it without serving events, so nothing it is sent gets an answer (likely because loading the master's
        // library into the engine's one Lua state ends by clearing the Lua hook through which the function served them).
        using (var oldMaster = StartRedis(redis.Binary, out var oldMasterPort))
        using (var oldReplica = StartRedis(redis.Binary, out var oldReplicaPort))
        {
            Replicate(oldMasterPort, oldReplicaPort);
            var logged = oldReplica.Lines().Count;
            using var function = StartBlockingFunction(oldReplicaPort, Path.Combine(fix.Work, "old-function.out"));
            OverflowReplicaOutputBuffer(oldMasterPort);

            Assert.True(LoadedWhileTheFunctionRan(oldReplica, logged));
            Assert.Null(TryCli(oldReplicaPort, "PING"));
            Assert.Null(TryCli(oldReplicaPort, "FUNCTION KILL"));
            Assert.True(oldReplica.IsAlive);
            function.Kill();
            function.WaitForExit();
        }

        // The server to patch is a master under load first: a replica's data is replaced by its master's, so what
        // survives the apply is shown before it replicates.
        using var server = StartRedis(redis.Binary, out var port);
        Assert.Equal(["OK"], DebianRedisFix.Cli(port, $"DEBUG POPULATE {DebianRedisFix.Survivors} survivor"));
        fix.ApplyUnderLoad(server, port, patch, $"-p {port}");

        // The patched replica: still busy a second after the full sync, it loads only once the function is killed.
        using var master = StartRedis(redis.Binary, out var masterPort);
        Replicate(masterPort, port);
        var beforePatchedTrigger = server.Lines().Count;
        var answer = Path.Combine(fix.Work, "function.out");
        using (var function = StartBlockingFunction(port, answer))
        {
            OverflowReplicaOutputBuffer(masterPort);

            Assert.StartsWith(Busy, TryCli(port, "PING"), StringComparison.Ordinal);
            Assert.Equal("OK", TryCli(port, "FUNCTION KILL"));
            Assert.True(function.WaitForExit(10_000), "FCALL_RO got no answer after FUNCTION KILL");
        }

        Assert.Contains("killed by user", File.ReadAllText(answer), StringComparison.Ordinal);
        WaitForLink(port);
        Assert.Equal("PONG", TryCli(port, "PING"));
        Assert.False(LoadedWhileTheFunctionRan(server, beforePatchedTrigger));
        Assert.Contains(server.Lines().Skip(beforePatchedTrigger).SkipWhile(line => !line.Contains(Killed, StringComparison.Ordinal)),
            line => line.Contains(SyncLoads, StringComparison.Ordinal));
        Assert.Equal(DebianRedisFix.Cli(masterPort, "DBSIZE"), DebianRedisFix.Cli(port, "DBSIZE"));

        var reverted = Shell.Graft("revert", server.Pid.ToString(), "cve-2026-23631");

        // The old code again, in the same process: the same trigger leaves it spinning, answering nobody.
        Assert.True(reverted.ExitCode == 0, reverted.Stderr);
        var beforeRevertedTrigger = server.Lines().Count;
        using (var function = StartBlockingFunction(port, Path.Combine(fix.Work, "reverted-function.out")))
        {
            OverflowReplicaOutputBuffer(masterPort);

            Assert.True(LoadedWhileTheFunctionRan(server, beforeRevertedTrigger));
            Assert.Null(TryCli(port, "PING"));
            Assert.True(server.IsAlive);
            function.Kill();
            function.WaitForExit();
        }
    }

    private RunningFixture StartRedis(string binary, out int port) => fix.Start(binary, port = Ports.Free());

    /// <summary>
    /// Makes the server at <paramref name="replicaPort"/> a replica of the one at <paramref name="masterPort"/>, set up
    /// as the diff's test sets them: the master streams full syncs at once and drops a replica whose output buffer
    /// passes 1 kB, the replica loads them from the socket (swapdb, 7.0's nearest to the test's "yes") and calls a
    /// script timed out after 1 ms. The master has the never-ending function, which replication gives the replica.
    /// </summary>
    private void Replicate(int masterPort, int replicaPort)
    {
        Assert.Equal(["OK"], DebianRedisFix.Cli(masterPort, "CONFIG SET repl-diskless-sync yes"));
        Assert.Equal(["OK"], DebianRedisFix.Cli(masterPort, "CONFIG SET repl-diskless-sync-delay 0"));
        Assert.Equal(["OK"], DebianRedisFix.Cli(masterPort, "CONFIG SET client-output-buffer-limit 'replica 1k 1k 0'"));
        Assert.Equal(["OK"], DebianRedisFix.Cli(replicaPort, "CONFIG SET repl-diskless-load swapdb"));
        Assert.Equal(["OK"], DebianRedisFix.Cli(replicaPort, "CONFIG SET busy-reply-threshold 1"));
        var library = Path.Combine(fix.Work, "blocklib.lua");
        File.WriteAllText(library, BlockingLibrary);
        var loaded = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {masterPort} -x FUNCTION LOAD REPLACE < '{library}'");
        Assert.Equal("blocklib", loaded.Stdout.Trim());
        Assert.Equal(["OK"], DebianRedisFix.Cli(replicaPort, $"REPLICAOF 127.0.0.1 {masterPort}"));
        WaitForLink(replicaPort);
    }

    /// <summary>Calls the never-ending function on the replica from a redis-cli that writes its answer to
    /// <paramref name="answer"/>, and waits until the replica answers BUSY.</summary>
    private static Process StartBlockingFunction(int port, string answer)
    {
        var function = Process.Start("/bin/sh", ["-c", $"exec redis-cli -h 127.0.0.1 -p {port} FCALL_RO blockfunc 0 > '{answer}' 2>&1"]);
        var deadline = Stopwatch.StartNew();
        while (TryCli(port, "PING") is not { } reply || !reply.StartsWith(Busy, StringComparison.Ordinal))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the function did not make the replica busy");
            Thread.Sleep(100);
        }

        return function;
    }

    /// <summary>Writes 5 MB to the master, which drops the replica for its output buffer, so that it connects again and
    /// gets a full sync; returns a second after the master counts it, the time the diff's test gives the replica.</summary>
    private void OverflowReplicaOutputBuffer(int masterPort)
    {
        var fullSyncs = FullSyncs(masterPort);
        var value = Path.Combine(fix.Work, "big-value");
        File.WriteAllText(value, new string('x', 1_000_000));
        for (var key = 0; key < 5; key++)
        {
            var set = Shell.Run("/bin/sh", "-c", $"redis-cli -h 127.0.0.1 -p {masterPort} -x SET bigkey:{key} < '{value}'");
            Assert.Equal("OK", set.Stdout.Trim());
        }

        var deadline = Stopwatch.StartNew();
        while (FullSyncs(masterPort) <= fullSyncs)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the master made no full sync");
            Thread.Sleep(100);
        }

        Thread.Sleep(1000);
    }

    private static long FullSyncs(int port) =>
        long.Parse(FullSyncCount().Match(string.Join('\n', DebianRedisFix.Cli(port, "INFO stats"))).Groups[1].Value);

    /// <summary>Whether the replica, in what it logged after its first <paramref name="skip"/> lines, loaded a full sync
    /// between the function's timing out and its end.</summary>
    private static bool LoadedWhileTheFunctionRan(RunningFixture replica, int skip) =>
        replica.Lines().Skip(skip)
            .SkipWhile(line => !line.Contains(TimedOut, StringComparison.Ordinal))
            .TakeWhile(line => !line.Contains(Killed, StringComparison.Ordinal))
            .Any(line => line.Contains(SyncLoads, StringComparison.Ordinal));

    private static void WaitForLink(int replicaPort)
    {
        var deadline = Stopwatch.StartNew();
        while (!DebianRedisFix.Cli(replicaPort, "INFO replication").Any(line => line.Trim() == "master_link_status:up"))
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the replica did not sync with its master");
            Thread.Sleep(100);
        }
    }

    /// <summary>The answer to a command, or null if none came within 5 s (a server that no longer serves events still
    /// accepts connections, which the kernel completes).</summary>
    private static string? TryCli(int port, string command)
    {
        var result = Shell.Run("/bin/sh", "-c", $"timeout 5 redis-cli -h 127.0.0.1 -p {port} {command}");
        if (result.ExitCode == 124)
        {
            return null;
        }

        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Trim();
    }

    [GeneratedRegex(@"sync_full:(\d+)")]
    private static partial Regex FullSyncCount();
}
